// LiveCapture on real devices: two veth pairs between two network namespaces made for the
// test (fedscope-live-<pid> holds the captured ends, fedscope-live-<pid>-peer the senders),
// so the host's own interfaces and addresses are never touched. Needs root (skipped
// otherwise); ctest label "netns", not "unit", so it can be run alone: ctest -L netns.
//
// The capture is opened, and the test's sockets are made, inside a namespace by switching
// this thread there with setns(2) and back: a packet socket stays bound to its namespace's
// device afterwards. Addresses are from the documentation ranges only (RFC 5737).

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "fedscope/capture/live.hpp"
#include "fedscope/capture/pcapng_writer.hpp"
#include "fedscope/capture/reader.hpp"

using namespace fedscope;
using namespace fedscope::capture;

namespace {

bool sh(const std::string& command) {
  return std::system((command + " >/dev/null 2>&1").c_str()) == 0;
}

/// Runs @p fn with this thread in network namespace @p ns (ip netns' /run/netns/NAME).
bool in_netns(const std::string& ns, const std::function<void()>& fn) {
  const int self = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  const int target = ::open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
  bool ok = self >= 0 && target >= 0 && ::setns(target, CLONE_NEWNET) == 0;
  if (ok) {
    fn();
    ok = ::setns(self, CLONE_NEWNET) == 0;
    if (!ok) std::abort();  // the rest of the tests would run in the wrong namespace
  }
  if (self >= 0) ::close(self);
  if (target >= 0) ::close(target);
  return ok;
}

/// The two namespaces and two veth pairs: capture side A1 192.0.2.1 and A2 198.51.100.1,
/// peer side B1 192.0.2.2 and B2 198.51.100.2. Removed by name in the destructor, also when
/// the test failed half-way.
class Lab {
 public:
  Lab() {
    const std::string id = std::to_string(::getpid());
    cap_ = "fedscope-live-" + id;
    peer_ = cap_ + "-peer";
    a1_ = "fl" + id + "a1";  // at most 15 characters: "fl" + 7 digits + 2
    a2_ = "fl" + id + "a2";
    remove();
    ok_ = sh("ip netns add " + cap_) && sh("ip netns add " + peer_) &&
          pair(a1_, "fl" + ::std::to_string(::getpid()) + "b1", "192.0.2") &&
          pair(a2_, "fl" + ::std::to_string(::getpid()) + "b2", "198.51.100") &&
          sh("ip -n " + cap_ + " link set lo up") && sh("ip -n " + peer_ + " link set lo up");
  }
  ~Lab() { remove(); }
  Lab(const Lab&) = delete;
  Lab& operator=(const Lab&) = delete;

  bool ok() const { return ok_; }
  const std::string& cap() const { return cap_; }
  const std::string& peer() const { return peer_; }
  const std::string& a1() const { return a1_; }
  const std::string& a2() const { return a2_; }

 private:
  bool pair(const std::string& a, const std::string& b, const std::string& net) {
    return sh("ip -n " + cap_ + " link add " + a + " type veth peer name " + b + " netns " +
              peer_) &&
           sh("ip -n " + cap_ + " addr add " + net + ".1/24 dev " + a) &&
           sh("ip -n " + peer_ + " addr add " + net + ".2/24 dev " + b) &&
           sh("ip -n " + cap_ + " link set " + a + " up") &&
           sh("ip -n " + peer_ + " link set " + b + " up");
  }
  void remove() {
    // Deleting a namespace deletes the veth ends in it, and with them their peers.
    sh("ip netns del " + cap_);
    sh("ip netns del " + peer_);
  }
  std::string cap_, peer_, a1_, a2_;
  bool ok_ = false;
};

/// Sends from the peer namespace: @p udp datagrams to each of @p udp_to (address, port), and
/// a TCP connection attempt to @p tcp_to port 5269 when given (answered by a RST: nobody
/// listens).
void send_from_peer(const Lab& lab, const std::vector<std::pair<std::string, int>>& udp_to, int udp,
                    const std::string& tcp_to = "") {
  std::vector<int> fds;
  ASSERT_TRUE(in_netns(lab.peer(), [&] {
    for (const auto& [addr, port] : udp_to) {
      const int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      fds.push_back(s);
      sockaddr_in to{};
      to.sin_family = AF_INET;
      to.sin_port = htons(static_cast<std::uint16_t>(port));
      ::inet_pton(AF_INET, addr.c_str(), &to.sin_addr);
      for (int i = 0; i < udp; ++i)
        ::sendto(s, "fedscope", 8, 0, reinterpret_cast<const sockaddr*>(&to), sizeof to);
    }
    if (!tcp_to.empty()) {
      const int s = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      fds.push_back(s);
      sockaddr_in to{};
      to.sin_family = AF_INET;
      to.sin_port = htons(5269);
      ::inet_pton(AF_INET, tcp_to.c_str(), &to.sin_addr);
      ::connect(s, reinterpret_cast<const sockaddr*>(&to), sizeof to);
    }
  }));
  // Closed from here: the sockets belong to the peer namespace whatever thread closes them.
  ::usleep(100'000);
  for (int fd : fds)
    ::close(fd);
}

struct Captured {
  Frame frame;  ///< data points into @c bytes
  std::vector<std::uint8_t> bytes;
};

/// Polls until @p want frames came or @p seconds passed; keeps copies.
void capture_until(LiveCapture& live, std::vector<Captured>& got, std::size_t want,
                   double seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (got.size() < want && std::chrono::steady_clock::now() < deadline) {
    const int n = live.poll(100, [&](const Frame& f) {
      Captured c;
      c.frame = f;
      c.bytes.assign(f.data.begin(), f.data.end());
      got.push_back(std::move(c));
    });
    if (n < 0) break;
  }
  for (Captured& c : got)
    c.frame.data = c.bytes;
}

/// IPv4 protocol and destination port of an Ethernet frame carrying IPv4 (0 when not).
std::pair<int, int> proto_port(const Captured& c) {
  const auto& b = c.bytes;
  if (b.size() < 14 + 20 + 4 || b[12] != 0x08 || b[13] != 0x00) return {0, 0};
  const std::size_t ihl = (b[14] & 0x0f) * 4u;
  if (b.size() < 14 + ihl + 4) return {0, 0};
  return {b[23], (b[14 + ihl + 2] << 8) | b[14 + ihl + 3]};
}

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

class LiveNetns : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces, packet sockets)";
    if (!sh("command -v ip")) GTEST_SKIP() << "needs ip (iproute2)";
    lab_ = std::make_unique<Lab>();
    if (!lab_->ok()) GTEST_SKIP() << "could not make namespaces and veth pairs here";
  }
  void TearDown() override { lab_.reset(); }

  std::unique_ptr<LiveCapture> open(const std::string& filter, std::string& error) {
    LiveOptions o;
    o.interfaces = {lab_->a1(), lab_->a2()};
    o.filter = filter;
    std::unique_ptr<LiveCapture> live;
    EXPECT_TRUE(in_netns(lab_->cap(), [&] { live = LiveCapture::open(o, error); }));
    return live;
  }

  std::unique_ptr<Lab> lab_;
};

TEST_F(LiveNetns, CapturesTwoDevicesFilteredAndNumberedAndWritesThem) {
  std::string error;
  auto live = open("udp port 53 or tcp port 5269", error);
  ASSERT_NE(live, nullptr) << error;
  ASSERT_EQ(live->interfaces().size(), 2u);
  for (const LiveInterface& i : live->interfaces()) {
    EXPECT_EQ(i.linktype_name, "EN10MB");
    EXPECT_EQ(i.snaplen, 262144u);
    EXPECT_FALSE(i.failed);
  }
  const std::int64_t before = now_ns();
  send_from_peer(*lab_, {{"192.0.2.1", 53}, {"192.0.2.1", 9999}, {"198.51.100.1", 53}}, 3,
                 "192.0.2.1");
  std::vector<Captured> got;
  // 3 + 3 datagrams to port 53, a SYN and its RST; port 9999 filtered out.
  capture_until(*live, got, 8, 5.0);
  const std::int64_t after = now_ns();
  ASSERT_GE(got.size(), 8u);

  std::uint64_t per_device[2] = {0, 0};
  int udp53[2] = {0, 0}, tcp = 0;
  for (std::size_t k = 0; k < got.size(); ++k) {
    const Frame& f = got[k].frame;
    SCOPED_TRACE(k);
    EXPECT_EQ(f.number, k + 1) << "numbered across devices in delivery order";
    EXPECT_EQ(f.file, 0u);
    ASSERT_TRUE(f.interface == 0 || f.interface == 1);
    EXPECT_EQ(f.linktype, 1);
    EXPECT_GE(f.time.ns, before - 1'000'000'000);
    EXPECT_LE(f.time.ns, after + 1'000'000'000);
    ++per_device[f.interface];
    const auto [proto, port] = proto_port(got[k]);
    EXPECT_NE(port, 9999) << "the filter drops it";
    if (proto == 17 && port == 53) ++udp53[f.interface];
    if (proto == 6) {
      ++tcp;
      EXPECT_EQ(f.interface, 0);
    }
  }
  EXPECT_EQ(udp53[0], 3);
  EXPECT_EQ(udp53[1], 3);
  EXPECT_GE(tcp, 2);
  EXPECT_EQ(live->interfaces()[0].packets, per_device[0]);
  EXPECT_EQ(live->interfaces()[1].packets, per_device[1]);
  live->update_stats();
  for (const LiveInterface& i : live->interfaces()) {
    EXPECT_GE(i.stats.received, i.packets) << i.name;
    EXPECT_EQ(i.stats.dropped, 0u) << i.name;
  }
  // Frames of two devices arrive interleaved out of time order now and then; that is counted
  // as the file reader counts it (capture.time_went_backwards), and nothing else is.
  EXPECT_EQ(live->anomalies().total(), live->anomalies().get("capture.time_went_backwards"));

  // What was captured, written as pcapng and read back, has the same frame identities.
  char tmpl[] = "/tmp/fedscope-test-live-XXXXXX";
  const int fd = ::mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  ::close(fd);
  const std::string path = tmpl;
  std::vector<PcapngInterface> ifs;
  for (const LiveInterface& i : live->interfaces())
    ifs.push_back({i.name, i.description, i.linktype, i.snaplen});
  auto w = PcapngWriter::open({path, 0, 0, "fedscope test"}, ifs, error);
  ASSERT_NE(w, nullptr) << error;
  for (const Captured& c : got)
    ASSERT_TRUE(w->write(c.frame, error)) << error;
  std::vector<PcapngInterfaceStats> stats;
  for (const LiveInterface& i : live->interfaces()) {
    PcapngInterfaceStats s;
    s.start = i.opened;
    s.end = Timestamp{now_ns()};
    s.received = i.stats.received;
    s.os_dropped = i.stats.dropped;
    s.if_dropped = i.stats.if_dropped;
    s.delivered = i.packets;
    stats.push_back(s);
  }
  ASSERT_TRUE(w->close(stats, error)) << error;
  auto reader = FileReader::open(path, 0, error);
  ASSERT_NE(reader, nullptr) << error;
  AnomalyCounters anomalies;
  Frame f;
  std::size_t k = 0;
  while (reader->next(f, anomalies)) {
    ASSERT_LT(k, got.size());
    EXPECT_EQ(f.number, got[k].frame.number);
    EXPECT_EQ(f.interface, got[k].frame.interface);
    EXPECT_EQ(f.time, got[k].frame.time);
    EXPECT_EQ(std::vector<std::uint8_t>(f.data.begin(), f.data.end()), got[k].bytes);
    ++k;
  }
  EXPECT_EQ(k, got.size());
  EXPECT_EQ(reader->info().interfaces.at(1).name, lab_->a2());
  EXPECT_EQ(reader->info().interfaces.at(0).isb_received, live->interfaces()[0].stats.received);
  EXPECT_TRUE(reader->info().end_time.has_value());
  ::unlink(path.c_str());
}

/// Polls for up to @p seconds until @p done says so (or every device failed).
void poll_until(LiveCapture& live, const std::function<bool()>& done, double seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!done() && std::chrono::steady_clock::now() < deadline)
    if (live.poll(100, [](const Frame&) {}) < 0) break;
}

TEST_F(LiveNetns, DeviceDownIsMarkedAndDeliversAgainWhenUp) {
  std::string error;
  auto live = open("udp port 53", error);
  ASSERT_NE(live, nullptr) << error;
  send_from_peer(*lab_, {{"192.0.2.1", 53}, {"198.51.100.1", 53}}, 2);
  std::vector<Captured> got;
  capture_until(*live, got, 4, 5.0);
  ASSERT_EQ(got.size(), 4u);

  ASSERT_TRUE(sh("ip -n " + lab_->cap() + " link set dev " + lab_->a1() + " down"));
  poll_until(
      *live, [&] { return live->interfaces()[0].down; }, 3.0);
  EXPECT_TRUE(live->interfaces()[0].down);
  EXPECT_FALSE(live->interfaces()[0].failed) << live->interfaces()[0].error;
  EXPECT_FALSE(live->interfaces()[1].down);
  live->update_stats();

  // The other device still delivers, numbered on from where the capture was.
  send_from_peer(*lab_, {{"198.51.100.1", 53}}, 2);
  std::vector<Captured> more;
  capture_until(*live, more, 2, 5.0);
  ASSERT_EQ(more.size(), 2u);
  EXPECT_EQ(more[0].frame.interface, 1);
  EXPECT_EQ(more[0].frame.number, 5u);

  // Up again (the address and route come back with it): it delivers again.
  ASSERT_TRUE(sh("ip -n " + lab_->cap() + " link set dev " + lab_->a1() + " up"));
  ASSERT_TRUE(
      sh("ip -n " + lab_->peer() + " link set dev fl" + std::to_string(::getpid()) + "b1 up"));
  poll_until(
      *live, [&] { return !live->interfaces()[0].down; }, 3.0);
  EXPECT_FALSE(live->interfaces()[0].down);
  // veth carrier takes a moment after up.
  std::vector<Captured> again;
  for (int attempt = 0; attempt < 10 && again.empty(); ++attempt) {
    send_from_peer(*lab_, {{"192.0.2.1", 53}}, 1);
    capture_until(*live, again, 1, 0.5);
  }
  ASSERT_FALSE(again.empty());
  EXPECT_EQ(again[0].frame.interface, 0);
  EXPECT_EQ(live->anomalies().total(), 0u);
}

TEST_F(LiveNetns, DeviceRemovedIsFailedAndTheOtherGoesOn) {
  std::string error;
  auto live = open("udp port 53", error);
  ASSERT_NE(live, nullptr) << error;
  send_from_peer(*lab_, {{"192.0.2.1", 53}, {"198.51.100.1", 53}}, 1);
  std::vector<Captured> got;
  capture_until(*live, got, 2, 5.0);
  ASSERT_EQ(got.size(), 2u);

  // Removed while up: libpcap reports it, or our once-a-second look does.
  ASSERT_TRUE(sh("ip -n " + lab_->cap() + " link del " + lab_->a1()));
  poll_until(
      *live, [&] { return live->interfaces()[0].failed; }, 3.0);
  ASSERT_TRUE(live->interfaces()[0].failed) << "a removed device must be noticed";
  EXPECT_EQ(live->interfaces()[0].error, "The interface disappeared");
  EXPECT_FALSE(live->interfaces()[1].failed);
  EXPECT_EQ(live->anomalies().get("capture.live_read_error"), 1u);
  live->update_stats();  // skips the failed device

  send_from_peer(*lab_, {{"198.51.100.1", 53}}, 2);
  std::vector<Captured> more;
  capture_until(*live, more, 2, 5.0);
  ASSERT_EQ(more.size(), 2u);
  EXPECT_EQ(more[0].frame.interface, 1);
  EXPECT_EQ(more[0].frame.number, 3u);

  // Taken down first, then removed: libpcap says nothing, our once-a-second look does.
  ASSERT_TRUE(sh("ip -n " + lab_->cap() + " link set dev " + lab_->a2() + " down"));
  poll_until(
      *live, [&] { return live->interfaces()[1].down; }, 3.0);
  ASSERT_TRUE(sh("ip -n " + lab_->cap() + " link del " + lab_->a2()));
  int rc = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (rc >= 0 && std::chrono::steady_clock::now() < deadline)
    rc = live->poll(100, [](const Frame&) {});
  EXPECT_EQ(rc, -1) << "every device failed";
  EXPECT_TRUE(live->interfaces()[1].failed);
  EXPECT_EQ(live->interfaces()[1].error, "The interface disappeared");
  EXPECT_EQ(live->anomalies().get("capture.live_read_error"), 2u);
  EXPECT_EQ(live->poll(0, [](const Frame&) {}), -1);
}

TEST_F(LiveNetns, InterfaceDownAtOpenIsNamed) {
  ASSERT_TRUE(sh("ip -n " + lab_->cap() + " link set dev " + lab_->a1() + " down"));
  std::string error;
  auto live = open("", error);
  EXPECT_EQ(live, nullptr);
  EXPECT_EQ(error, lab_->a1() + ": the interface is down (ip link set dev " + lab_->a1() + " up)");
}
