// The Tweeter tracker: keeps the registered users and their followers and answers users over UDP.
//
//   ./build/tracker.out PORT
//
// Requests (user -> tracker, from the user's first port once registered) and their SUCCESS fields:
//   register <id> @h IP p1 p2 p3      (must come from IP:p1)
//   query <id>                        -> <n> @a @b ...            (sorted)
//   follow <id> @i @j / drop <id> @i @j
//   tweet <id> @h <text>              -> <version> <n> @f1 ip port ...   (followers sorted, ring-in port)
//   end-tweet <id> @h
//   exit <id> @h                      (takes @h out of every follower list)
//   exit-complete <id> @h             (@h has torn its own ring down: delete it)
// Notice (tracker -> owner's ring-in port), acknowledged by "reply <id> SUCCESS":
//   ring <id> @owner <version> <n> @f1 ip port ...   sent after every change of @owner's followers
//
// Concurrency: between a tweet and its end-tweet, register, follow, drop, tweet and exit are answered
// BUSY (users retry them), so no follower list changes under a travelling tweet. query and end-tweet
// are always answered. A tweet never ended (its tweeter died) is cleared after TWEET_TIMEOUT.
#include <poll.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common.hpp"

using namespace tw;

namespace {

constexpr double TWEET_TIMEOUT = 5.0;  // seconds before an unended tweet is cleared
constexpr double EXIT_TIMEOUT = 10.0;  // seconds before an exit never completed is finished anyway
constexpr double NOTICE_TIMEOUT = 0.2;  // first wait for a ring notice's ack; doubles each try
constexpr int NOTICE_TRIES = 4;
constexpr size_t MAX_USERS = 1024;  // a full follower list must fit in one datagram
constexpr size_t REPLY_MEMORY = 1024;

struct Member {
    std::string ip;
    int ports[3];                   // to the tracker, ring-in, ring-out
    std::set<std::string> followers;  // std::set keeps them sorted: the ring order
    uint64_t version = 0;           // grows with every change of `followers`
    bool exiting = false;
    double exiting_since = 0;

    Address tracker_address() const { return {ip, ports[0]}; }
    Address ring_in() const { return {ip, ports[1]}; }
};

// A ring notice waiting for its acknowledgement.
struct Notice {
    std::string owner;
    std::string data;
    Address to;
    double timeout;
    int tries_left;
    double deadline;
};

std::string failure(const std::string& reason) { return "FAILURE " + reason; }

class Tracker {
public:
    explicit Tracker(int fd) : fd_(fd), next_id_(first_id()), replies_(REPLY_MEMORY) {}

    void serve() {
        for (;;) {
            pollfd watched{fd_, POLLIN, 0};
            poll(&watched, 1, sleep_ms());
            std::string data;
            Address from;
            for (int i = 0; i < 64 && receive_datagram(fd_, data, from); i++) handle(data, from);
            tick();
        }
    }

private:
    int fd_;
    uint64_t next_id_;  // for ring notices
    std::map<std::string, Member> users_;  // by handle; std::map keeps them sorted for query
    std::string tweeting_;  // the handle whose tweet is in progress, or empty
    double tweet_started_ = 0;
    Recent replies_;  // "ip:port#id" -> the reply sent, to answer a repeated request the same way
    std::map<uint64_t, Notice> notices_;  // by id
    std::map<std::string, uint64_t> notice_of_;  // owner -> id of its notice still unacknowledged

    // ---- one datagram ---------------------------------------------------------------------------

    void handle(const std::string& data, const Address& from) {
        Fields fields(data);
        std::string op;
        uint64_t id;
        if (!fields.word(op) || !fields.number(id)) {
            trace("dropped: no op and id to answer to");
            return;
        }
        if (op == "reply") {  // a user acknowledged a ring notice
            auto found = notices_.find(id);
            if (found == notices_.end()) {
                trace("late or unknown acknowledgement " + std::to_string(id));
                return;
            }
            notice_of_.erase(found->second.owner);
            notices_.erase(found);
            return;
        }
        std::string prefix = "reply " + std::to_string(id) + " ";
        if (op == "query") {  // changes nothing: no need to remember the answer
            send_datagram(fd_, prefix + query(), from);
            return;
        }
        std::string key = show(from) + "#" + std::to_string(id);
        if (const std::string* cached = replies_.get(key)) {
            trace("repeated request " + std::to_string(id) + ": same answer again");
            send_datagram(fd_, *cached, from);
            return;
        }
        std::string answer = prefix + apply(op, fields, from);
        replies_.put(key, answer);
        send_datagram(fd_, answer, from);
    }

    // The answer to one request: "SUCCESS ...", "FAILURE reason" or "BUSY reason".
    std::string apply(const std::string& op, Fields& fields, const Address& from) {
        if (op == "register") return do_register(fields, from);
        if (op == "follow") return do_follow(fields, from, true);
        if (op == "drop") return do_follow(fields, from, false);
        if (op == "tweet") return do_tweet(fields, from);
        if (op == "end-tweet") return do_end_tweet(fields, from);
        if (op == "exit") return do_exit(fields, from);
        if (op == "exit-complete") return do_exit_complete(fields, from);
        return failure("unknown op " + op);
    }

    std::string query() const {
        std::string answer = "SUCCESS " + std::to_string(users_.size());
        for (const auto& entry : users_) answer += " " + entry.first;
        return answer;
    }

    std::string busy() const { return "BUSY tracker busy: " + tweeting_ + " is tweeting"; }

    std::string do_register(Fields& fields, const Address& from) {
        std::string handle, ip;
        int ports[3];
        if (!fields.handle(handle)) return failure("invalid handle (@ and 1 to 15 letters)");
        if (!fields.word(ip) || !is_ipv4(ip)) return failure("invalid IPv4 address " + ip);
        for (int& port : ports) {
            if (!fields.port(port)) return failure("ports must be three port numbers 1-65535");
        }
        if (ports[0] == ports[1] || ports[0] == ports[2] || ports[1] == ports[2]) {
            return failure("the three ports must differ");
        }
        if (!tweeting_.empty()) return busy();
        if (users_.count(handle)) return failure("duplicate handle " + handle);
        if (from != Address{ip, ports[0]}) {
            return failure("register must be sent from " + show(Address{ip, ports[0]}));
        }
        for (const auto& [other, member] : users_) {
            for (int mine : ports) {
                if (member.ip == ip && std::count(member.ports, member.ports + 3, mine)) {
                    return failure("ports already registered by " + other);
                }
            }
        }
        if (users_.size() >= MAX_USERS) return failure("tracker full");
        Member& member = users_[handle];
        member.ip = ip;
        std::copy(ports, ports + 3, member.ports);
        say("tracker: registered " + handle + " at " + ip + " ports " + std::to_string(ports[0]) + " " +
            std::to_string(ports[1]) + " " + std::to_string(ports[2]));
        return "SUCCESS";
    }

    // The registered user that sent a request naming `handle`, or nullptr and `why`. Only a user
    // itself, from its registered address, may act in its name.
    Member* actor(const std::string& handle, const Address& from, bool exiting_ok, std::string& why) {
        auto found = users_.find(handle);
        if (found == users_.end()) {
            why = failure("unknown handle " + handle);
            return nullptr;
        }
        Member& member = found->second;
        if (from != member.tracker_address()) {
            why = failure("not your handle: " + handle + " is registered at " + show(member.tracker_address()));
            return nullptr;
        }
        if (member.exiting && !exiting_ok) {
            why = failure(handle + " is exiting");
            return nullptr;
        }
        return &member;
    }

    std::string do_follow(Fields& fields, const Address& from, bool follow) {
        std::string handle, target, why;
        if (!fields.handle(handle) || !fields.handle(target)) return failure("invalid handle (@ and 1 to 15 letters)");
        if (!actor(handle, from, false, why)) return why;
        if (!tweeting_.empty()) return busy();
        auto owner = users_.find(target);
        if (owner == users_.end()) return failure("unknown handle " + target);
        if (target == handle) return failure("cannot follow yourself");
        Member& followed = owner->second;
        if (follow) {
            if (followed.exiting) return failure(target + " is exiting");
            if (!followed.followers.insert(handle).second) return failure(handle + " already follows " + target);
        } else if (followed.followers.erase(handle) == 0) {
            return failure(handle + " does not follow " + target);
        }
        ring_changed(target);
        return "SUCCESS";
    }

    std::string do_tweet(Fields& fields, const Address& from) {
        std::string handle, why;
        if (!fields.handle(handle)) return failure("invalid handle (@ and 1 to 15 letters)");
        Member* member = actor(handle, from, false, why);
        if (!member) return why;
        std::string text = fields.rest();
        if (char_count(text) > MAX_TWEET) return failure(too_long(text));
        if (text.find_first_of("\r\n") != std::string::npos) return failure("tweet text must be one line");
        if (utf8_clean(text) != text) return failure("tweet text is not valid UTF-8");
        if (!tweeting_.empty()) return busy();
        tweeting_ = handle;
        tweet_started_ = now();
        say("tracker: tweet of " + handle + " in progress");
        return "SUCCESS " + std::to_string(member->version) + " " + peers(*member);
    }

    std::string do_end_tweet(Fields& fields, const Address& from) {
        std::string handle, why;
        if (!fields.handle(handle)) return failure("invalid handle (@ and 1 to 15 letters)");
        if (!actor(handle, from, true, why)) return why;
        if (tweeting_ != handle) return failure("no tweet of " + handle + " in progress");
        tweeting_.clear();
        say("tracker: tweet of " + handle + " ended");
        return "SUCCESS";
    }

    std::string do_exit(Fields& fields, const Address& from) {
        std::string handle, why;
        if (!fields.handle(handle)) return failure("invalid handle (@ and 1 to 15 letters)");
        Member* member = actor(handle, from, true, why);
        if (!member) return why;
        if (!tweeting_.empty()) return busy();
        if (!member->exiting) {
            member->exiting = true;
            member->exiting_since = now();
            for (auto& [owner, other] : users_) {
                if (other.followers.erase(handle)) ring_changed(owner);
            }
            say("tracker: " + handle + " is exiting");
        }
        return "SUCCESS";
    }

    std::string do_exit_complete(Fields& fields, const Address& from) {
        std::string handle, why;
        if (!fields.handle(handle)) return failure("invalid handle (@ and 1 to 15 letters)");
        Member* member = actor(handle, from, true, why);
        if (!member) return why;
        if (!member->exiting) return failure(handle + " has not sent exit");
        remove(handle);
        say("tracker: " + handle + " exited");
        return "SUCCESS";
    }

    // ---- helpers --------------------------------------------------------------------------------

    // "<n> @f1 ip port ..." in alphabetical order, with each follower's ring-in port.
    std::string peers(const Member& owner) const {
        std::string list = std::to_string(owner.followers.size());
        for (const std::string& handle : owner.followers) {
            const Member& follower = users_.at(handle);
            list += " " + handle + " " + follower.ip + " " + std::to_string(follower.ports[1]);
        }
        return list;
    }

    // Tell `owner` its new follower list, so that it can update its ring. A newer notice replaces
    // an older one still waiting for its acknowledgement.
    void ring_changed(const std::string& owner) {
        Member& member = users_.at(owner);
        member.version++;
        auto older = notice_of_.find(owner);
        if (older != notice_of_.end()) notices_.erase(older->second);
        uint64_t id = next_id_++;
        Notice notice{owner,
                      "ring " + std::to_string(id) + " " + owner + " " + std::to_string(member.version) + " " +
                          peers(member),
                      member.ring_in(), NOTICE_TIMEOUT, NOTICE_TRIES - 1, now() + NOTICE_TIMEOUT};
        send_datagram(fd_, notice.data, notice.to);
        notices_[id] = notice;
        notice_of_[owner] = id;
    }

    void remove(const std::string& handle) {
        auto notice = notice_of_.find(handle);
        if (notice != notice_of_.end()) {
            notices_.erase(notice->second);
            notice_of_.erase(notice);
        }
        users_.erase(handle);
    }

    // ---- timeouts -------------------------------------------------------------------------------

    void tick() {
        double t = now();
        if (!tweeting_.empty() && t - tweet_started_ >= TWEET_TIMEOUT) {
            say("tracker: tweet of " + tweeting_ + " not ended after 5 s; cleared");
            tweeting_.clear();
        }
        std::vector<std::string> stuck;
        for (const auto& [handle, member] : users_) {
            if (member.exiting && t - member.exiting_since >= EXIT_TIMEOUT) stuck.push_back(handle);
        }
        for (const std::string& handle : stuck) {
            say("tracker: " + handle + " never completed its exit; removed");
            remove(handle);
        }
        for (auto it = notices_.begin(); it != notices_.end();) {
            Notice& notice = it->second;
            if (notice.deadline > t) {
                ++it;
            } else if (notice.tries_left == 0) {
                trace(notice.owner + " never acknowledged its ring notice");
                notice_of_.erase(notice.owner);
                it = notices_.erase(it);
            } else {
                notice.tries_left--;
                notice.timeout *= 2;
                notice.deadline = t + notice.timeout;
                send_datagram(fd_, notice.data, notice.to);
                ++it;
            }
        }
    }

    // Milliseconds poll may sleep before tick() has work (-1: until a datagram comes).
    int sleep_ms() const {
        double next = -1;
        auto consider = [&next](double deadline) {
            if (next < 0 || deadline < next) next = deadline;
        };
        if (!tweeting_.empty()) consider(tweet_started_ + TWEET_TIMEOUT);
        for (const auto& entry : users_) {
            if (entry.second.exiting) consider(entry.second.exiting_since + EXIT_TIMEOUT);
        }
        for (const auto& entry : notices_) consider(entry.second.deadline);
        if (next < 0) return -1;
        return static_cast<int>(std::ceil(std::max(0.0, next - now()) * 1000));
    }
};

}  // namespace

int main(int argc, char** argv) {
    int port;
    if (argc != 2 || !parse_port(argv[1], port)) {
        std::fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    std::string error;
    Address address{"0.0.0.0", port};
    int fd = open_udp(address, error);
    if (fd < 0) {
        say("tracker: cannot bind " + show(address) + ": " + error);
        return 1;
    }
    say("tracker: listening on " + show(address));
    Tracker(fd).serve();
}
