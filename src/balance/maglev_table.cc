#include "balance/maglev_table.h"

#include <algorithm>
#include <numeric>

#include "balance/hash64.h"

namespace l4lb::balance {
namespace {

// Fixed seeds for h1 and h2: changing either changes every table, and so which backend every
// client of a mixed-version fleet gets.
constexpr std::uint64_t kOffsetSeed = 0x6d61676c65762d31ULL;  // "maglev-1"
constexpr std::uint64_t kSkipSeed = 0x6d61676c65762d32ULL;    // "maglev-2"
// The digest's: changing it changes every digest (not any table), so instances of two versions
// would look as if they disagreed.
constexpr std::uint64_t kDigestSeed = 0x6d61676c65762d64ULL;  // "maglev-d"

}  // namespace

bool isPrime(std::uint32_t n) {
  if (n < 2) return false;
  if (n % 2 == 0) return n == 2;
  for (std::uint64_t d = 3; d * d <= n; d += 2) {
    if (n % d == 0) return false;
  }
  return true;
}

std::uint32_t nextPrime(std::uint32_t n) {
  while (!isPrime(n)) ++n;
  return n;
}

MaglevTable::MaglevTable(std::span<const BackendSlot> backends, std::uint32_t size)
    : by_name_(backends.size()) {
  std::iota(by_name_.begin(), by_name_.end(), 0U);
  std::stable_sort(by_name_.begin(), by_name_.end(), [&](std::uint32_t a, std::uint32_t b) {
    return backends[a].name < backends[b].name;
  });
  const bool any_weight = std::any_of(backends.begin(), backends.end(),
                                      [](const BackendSlot& b) { return b.weight > 0; });
  if (any_weight) populate(backends, nextPrime(std::max<std::uint32_t>(size, 2)));
  digest_ = computeDigest(backends);
}

std::uint64_t MaglevTable::computeDigest(std::span<const BackendSlot> backends) const {
  // Each backend's identity hashed once, then the slots chained through mix64 (a bijection, so
  // no two different sequences are made alike by the chaining itself): O(M), no allocation
  // beyond one word per backend.
  std::vector<std::uint64_t> identity(backends.size());
  for (std::size_t b = 0; b < backends.size(); ++b) {
    const BackendSlot& backend = backends[b];
    const std::uint64_t name = hashString(backend.name, kDigestSeed);
    identity[b] = hashString(backend.address, name ^ (backend.backup ? 1U : 0U));
  }
  // Weights do not enter as such: what they decide is which slots each backend owns. A backend
  // of weight 0 owns none and is never picked (not even as a fallback), so it changes nothing.
  std::uint64_t h = mix64(kDigestSeed ^ entries_.size());
  for (const std::uint32_t entry : entries_) h = mix64(h + identity[entry]);
  return h;
}

void MaglevTable::populate(std::span<const BackendSlot> backends, std::uint32_t size) {
  struct Turn {
    std::uint64_t round;    // the round of this backend's next turn (see below)
    std::uint32_t rank;     // position in name order: who goes first within a round
    std::uint32_t backend;  // config index
    std::uint64_t weight;
    std::uint64_t turns;  // taken so far
    std::uint64_t skip;
    std::uint64_t slot;  // next candidate in this backend's permutation
  };
  std::vector<Turn> heap;
  heap.reserve(by_name_.size());
  std::uint64_t max_weight = 0;
  for (std::uint32_t rank = 0; rank < by_name_.size(); ++rank) {
    const BackendSlot& backend = backends[by_name_[rank]];
    if (backend.weight == 0) continue;
    const std::uint64_t offset = hashString(backend.name, kOffsetSeed) % size;
    const std::uint64_t skip = hashString(backend.name, kSkipSeed) % (size - 1) + 1;
    heap.push_back(Turn{0, rank, by_name_[rank], backend.weight, 0, skip, offset});
    max_weight = std::max(max_weight, std::uint64_t{backend.weight});
  }
  // Earning `weight` credit a round and spending `max_weight` a turn, a backend takes its t-th
  // turn (from 1) in round ceil(t * max_weight / weight). Rather than walk every backend through
  // every round (O(M * N) when one weight dwarfs the rest), keep the backends in a heap ordered by
  // (round of next turn, rank): the same order of turns in O(M log N).
  const auto next_round = [max_weight](const Turn& turn) {
    return ((turn.turns + 1) * max_weight + turn.weight - 1) / turn.weight;
  };
  const auto later = [](const Turn& a, const Turn& b) {
    return a.round != b.round ? a.round > b.round : a.rank > b.rank;
  };
  for (Turn& turn : heap) turn.round = next_round(turn);
  std::make_heap(heap.begin(), heap.end(), later);

  entries_.assign(size, kNoBackend);
  for (std::uint32_t filled = 0; filled < size; ++filled) {
    std::pop_heap(heap.begin(), heap.end(), later);
    Turn& turn = heap.back();
    // Terminates: the permutation visits every slot (size is prime) and one is still free.
    while (entries_[turn.slot] != kNoBackend) turn.slot = (turn.slot + turn.skip) % size;
    entries_[turn.slot] = turn.backend;
    turn.slot = (turn.slot + turn.skip) % size;
    ++turn.turns;
    turn.round = next_round(turn);
    std::push_heap(heap.begin(), heap.end(), later);
  }
}

}  // namespace l4lb::balance
