#include "health/https_dialog.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <ctime>

#include "proto/check_reply.h"

namespace l4lb::health {

struct HttpsDialog::Tls {
  SSL_CTX* context = nullptr;
  SSL* ssl = nullptr;
  BIO* from_server = nullptr;  // owned by ssl once set
  BIO* to_server = nullptr;
  std::string setup_error;  // why the dialog cannot start (a ca_file OpenSSL cannot load)

  Tls() = default;
  Tls(const Tls&) = delete;
  Tls& operator=(const Tls&) = delete;
  ~Tls() {
    if (ssl != nullptr) SSL_free(ssl);  // frees both BIOs
    if (context != nullptr) SSL_CTX_free(context);
  }
};

namespace {

// OpenSSL's error queue is per thread; a check reads its own errors and leaves it empty.
std::string openSslError(std::string_view what) {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return std::string(what);
  char text[256];
  ERR_error_string_n(code, text, sizeof(text));
  return fmt::format("{}: {}", what, text);
}

bool isIpAddress(const std::string& name) {
  unsigned char buf[sizeof(in6_addr)];
  return ::inet_pton(AF_INET, name.c_str(), buf) == 1 ||
         ::inet_pton(AF_INET6, name.c_str(), buf) == 1;
}

}  // namespace

HttpsDialog::HttpsDialog(Options options)
    : options_(std::move(options)), tls_(std::make_unique<Tls>()) {
  Tls& tls = *tls_;
  tls.context = SSL_CTX_new(TLS_client_method());
  if (tls.context == nullptr) {
    tls.setup_error = openSslError("SSL_CTX_new");
    return;
  }
  SSL_CTX_set_min_proto_version(tls.context, TLS1_2_VERSION);
  // Verification runs in any case; with SSL_VERIFY_NONE the handshake finishes and the result
  // is read afterwards, so a failed check says OpenSSL's reason rather than "handshake failure".
  SSL_CTX_set_verify(tls.context, SSL_VERIFY_NONE, nullptr);
  const int loaded = options_.ca_file.empty() ? SSL_CTX_set_default_verify_paths(tls.context)
                                              : SSL_CTX_load_verify_locations(
                                                    tls.context, options_.ca_file.c_str(), nullptr);
  if (loaded != 1) {
    tls.setup_error = openSslError(
        fmt::format("cannot load CA certificates from {}",
                    options_.ca_file.empty() ? "the system's store" : options_.ca_file));
    return;
  }
  tls.ssl = SSL_new(tls.context);
  tls.from_server = BIO_new(BIO_s_mem());
  tls.to_server = BIO_new(BIO_s_mem());
  if (tls.ssl == nullptr || tls.from_server == nullptr || tls.to_server == nullptr) {
    if (tls.from_server != nullptr) BIO_free(tls.from_server);
    if (tls.to_server != nullptr) BIO_free(tls.to_server);
    tls.setup_error = openSslError("out of memory");
    return;
  }
  SSL_set_bio(tls.ssl, tls.from_server, tls.to_server);
  SSL_set_connect_state(tls.ssl);
  if (!options_.sni.empty() && !isIpAddress(options_.sni)) {
    // SSL_set_tlsext_host_name, without the macro's C cast.
    SSL_ctrl(tls.ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
             const_cast<char*>(options_.sni.c_str()));
  }
  if (isIpAddress(options_.verify_name)) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(tls.ssl), options_.verify_name.c_str());
  } else if (!options_.verify_name.empty()) {
    SSL_set1_host(tls.ssl, options_.verify_name.c_str());
  }
}

HttpsDialog::~HttpsDialog() = default;

std::string HttpsDialog::pending() const {
  std::string out;
  if (tls_->to_server == nullptr) return out;
  char buf[16 * 1024];
  for (;;) {
    const int n = BIO_read(tls_->to_server, buf, sizeof(buf));
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

std::string HttpsDialog::opening() {
  if (tls_->ssl == nullptr) return {};
  (void)SSL_do_handshake(tls_->ssl);  // writes the ClientHello, then wants to read
  ERR_clear_error();
  return pending();
}

proto::DialogStep HttpsDialog::onReceived(std::string_view received) {
  if (tls_->ssl == nullptr) {
    return {proto::CheckVerdict::down(tls_->setup_error), {}};
  }
  if (BIO_write(tls_->from_server, received.data(), static_cast<int>(received.size())) !=
      static_cast<int>(received.size())) {
    return {proto::CheckVerdict::down(openSslError("BIO_write")), {}};
  }
  if (!handshaken_) {
    const int rc = SSL_do_handshake(tls_->ssl);
    if (rc != 1) {
      if (SSL_get_error(tls_->ssl, rc) == SSL_ERROR_WANT_READ) {
        return {proto::CheckVerdict::needMore(), pending()};
      }
      return {proto::CheckVerdict::down(openSslError("TLS handshake failed")), pending()};
    }
    handshaken_ = true;
    proto::CheckVerdict verdict = afterHandshake();
    if (verdict.status != proto::CheckStatus::kNeedMore) return {std::move(verdict), pending()};
    if (SSL_write(tls_->ssl, options_.request.data(), static_cast<int>(options_.request.size())) <=
        0) {
      return {proto::CheckVerdict::down(openSslError("TLS write")), pending()};
    }
  }
  proto::CheckVerdict verdict = readReply();
  return {std::move(verdict), pending()};
}

proto::CheckVerdict HttpsDialog::afterHandshake() {
  const long result = SSL_get_verify_result(tls_->ssl);
  X509* certificate = SSL_get_peer_certificate(tls_->ssl);
  if (certificate == nullptr) return proto::CheckVerdict::down("the server sent no certificate");
  std::tm end{};
  const bool dated = ASN1_TIME_to_tm(X509_get0_notAfter(certificate), &end) == 1;
  X509_free(certificate);
  if (result != X509_V_OK) {
    return proto::CheckVerdict::down(
        fmt::format("certificate: {}", X509_verify_cert_error_string(result)));
  }
  if (dated) not_after_ = ::timegm(&end);
  return proto::CheckVerdict::needMore();
}

proto::CheckVerdict HttpsDialog::readReply() {
  char buf[4096];
  for (;;) {
    const int n = SSL_read(tls_->ssl, buf, sizeof(buf));
    if (n > 0) {
      reply_.append(buf, static_cast<std::size_t>(n));
      if (reply_.size() >= proto::kMaxCheckReply) break;
      continue;
    }
    const int error = SSL_get_error(tls_->ssl, n);
    if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_ZERO_RETURN) break;
    return proto::CheckVerdict::down(openSslError("TLS read"));
  }
  ERR_clear_error();
  proto::CheckVerdict verdict =
      proto::parseHttpReply(reply_, options_.min_status, options_.max_status);
  if (verdict.status == proto::CheckStatus::kNeedMore && reply_.size() >= proto::kMaxCheckReply) {
    return proto::CheckVerdict::down("reply too long without a verdict");
  }
  if (verdict.status == proto::CheckStatus::kUp && not_after_ != 0) {
    std::tm end{};
    const std::time_t when = not_after_;
    ::gmtime_r(&when, &end);
    verdict.reason += fmt::format("; certificate valid until {:04}-{:02}-{:02}", end.tm_year + 1900,
                                  end.tm_mon + 1, end.tm_mday);
  }
  return verdict;
}

std::string HttpsDialog::farewell() const {
  if (!handshaken_ || tls_->ssl == nullptr) return {};
  (void)SSL_shutdown(tls_->ssl);  // queues close_notify
  ERR_clear_error();
  return pending();
}

}  // namespace l4lb::health
