#include "proto/scram.h"

#include <gtest/gtest.h>

#include <string>

namespace l4lb::proto {
namespace {

// RFC 7677 section 3: user "user", password "pencil".
constexpr std::string_view kClientNonce = "rOprNGfwEbeRWgbNEkqO";
constexpr std::string_view kServerFirst =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
constexpr std::string_view kClientFinal =
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
    "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
constexpr std::string_view kServerFinal = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

// The error's message, or "" for a success.
template <typename R>
std::string why(const R& result) {
  return result ? std::string() : result.error().message();
}

TEST(ScramTest, Rfc7677TestVector) {
  ScramSha256Client client("user", "pencil", std::string(kClientNonce));
  EXPECT_EQ(client.clientFirst(), "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
  EXPECT_EQ(client.clientFinal(kServerFirst).valueOr("<error>"), kClientFinal);
  const auto verified = client.verifyServerFinal(kServerFinal);
  EXPECT_TRUE(verified) << why(verified);
}

TEST(ScramTest, BadServerSignatureIsRejected) {
  ScramSha256Client client("user", "pencil", std::string(kClientNonce));
  ASSERT_TRUE(client.clientFinal(kServerFirst));
  // One bit off, the signature of another password, and a truncated one.
  EXPECT_NE(why(client.verifyServerFinal("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G5="))
                .find("server signature does not match"),
            std::string::npos);
  EXPECT_FALSE(client.verifyServerFinal("v=3HO6Qt1M4MKJrmlKaoOqLAI0/0TV0HZe7J9H3MBtSOg="));
  EXPECT_FALSE(client.verifyServerFinal("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl9"));
  EXPECT_FALSE(client.verifyServerFinal(""));
  EXPECT_NE(why(client.verifyServerFinal("e=invalid-proof")).find("invalid-proof"),
            std::string::npos);
}

TEST(ScramTest, ServerFinalBeforeProofIsRejected) {
  ScramSha256Client client("user", "pencil", std::string(kClientNonce));
  EXPECT_NE(why(client.verifyServerFinal(kServerFinal)).find("before our proof"),
            std::string::npos);
}

TEST(ScramTest, MalformedServerFirst) {
  std::string error;
  auto attempt = [&](std::string_view server_first) {
    ScramSha256Client client("", "pencil", std::string(kClientNonce));
    auto final_message = client.clientFinal(server_first);
    error = why(final_message);
    return final_message.ok();
  };
  // The nonce must extend ours.
  EXPECT_FALSE(attempt("r=someoneElse,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"));
  EXPECT_NE(error.find("nonce"), std::string::npos);
  EXPECT_FALSE(attempt("r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"));
  EXPECT_FALSE(attempt("r=rOprNGfwEbeRWgbNEkqOx,s=!!!!,i=4096"));
  EXPECT_FALSE(attempt("r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=0"));
  EXPECT_FALSE(attempt("r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=12x"));
  EXPECT_FALSE(attempt("r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4000000000"));
  EXPECT_NE(error.find("iterations"), std::string::npos) << error;
  EXPECT_FALSE(attempt("s=W22ZaJ0SNY7soEsUEjb6gQ==,r=rOprNGfwEbeRWgbNEkqOx,i=4096"));
  EXPECT_FALSE(attempt("m=ext,r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"));
  EXPECT_FALSE(attempt(""));
  EXPECT_FALSE(attempt(","));
  // Extensions after the iteration count are allowed.
  EXPECT_TRUE(attempt("r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=1,x=y")) << error;
}

TEST(ScramTest, NoncesDiffer) {
  const auto a = scramClientNonce();
  const auto b = scramClientNonce();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->size(), 24U);
  EXPECT_NE(*a, *b);
  EXPECT_EQ(a->find(','), std::string::npos);
}

}  // namespace
}  // namespace l4lb::proto
