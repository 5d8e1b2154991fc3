#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "proto/check_dialog.h"

namespace l4lb::health {

// The https check: a TLS handshake (OpenSSL, over memory buffers: the probe still owns the socket)
// that verifies the server's certificate chain against `ca_file` (or the system's CAs) and the
// name `verify_name` (a host name, or an IP address matched against the certificate's IP SANs),
// then "GET path" inside TLS, up when the status is in [min_status, max_status]. A certificate
// that fails verification is down with OpenSSL's reason ("certificate has expired", "unable to
// get local issuer certificate", "hostname mismatch"). A verified certificate's notAfter is kept
// (certificateNotAfter) for the expiry warning and the metric; the session ends with a
// close_notify.
class HttpsDialog final : public proto::CheckDialog {
 public:
  struct Options {
    std::string ca_file;      // empty: the system's CA store
    std::string sni;          // server_name sent; empty: none
    std::string verify_name;  // the name (or IP) the certificate must carry
    std::string request;      // the http request, whole
    int min_status = 200;
    int max_status = 399;
  };

  explicit HttpsDialog(Options options);
  ~HttpsDialog() override;

  [[nodiscard]] std::string opening() override;
  [[nodiscard]] proto::DialogStep onReceived(std::string_view received) override;
  [[nodiscard]] std::string farewell() const override;
  [[nodiscard]] std::int64_t certificateNotAfter() const override { return not_after_; }

 private:
  struct Tls;                                 // OpenSSL's objects, kept out of this header
  [[nodiscard]] std::string pending() const;  // what OpenSSL wrote, to send
  [[nodiscard]] proto::CheckVerdict afterHandshake();
  [[nodiscard]] proto::CheckVerdict readReply();

  Options options_;
  std::unique_ptr<Tls> tls_;
  bool handshaken_ = false;
  std::int64_t not_after_ = 0;  // Unix seconds; 0: no verified certificate
  std::string reply_;           // decrypted
};

}  // namespace l4lb::health
