#pragma once

#include "proto/check_reply.h"

namespace l4lb::proto {

// What a health-check parser decided, for EXPECT_TRUE(isUp(parse(...))).
inline bool isUp(const CheckVerdict& v) { return v.status == CheckStatus::kUp; }
inline bool isDown(const CheckVerdict& v) { return v.status == CheckStatus::kDown; }
inline bool needsMore(const CheckVerdict& v) { return v.status == CheckStatus::kNeedMore; }

}  // namespace l4lb::proto
