// A Tweeter user: reads commands on stdin, asks the tracker, and passes tweets round logical rings.
//
//   ./build/user.out TRACKER_IP TRACKER_PORT
//
// One poll() loop watches stdin, the sockets and the timers, so the user keeps forwarding other
// users' tweets while it waits for the tracker or for the next typed line. Commands run one at a
// time in the order typed. After `register` the user owns three UDP sockets on its IPv4:
//   p1  requests to the tracker and its replies;
//   p2  ring-in: setup, teardown and forward from peers, ring notices from the tracker;
//   p3  ring-out: setup, teardown and forward go out from here; setup/teardown acks come back here.
// Before registering it talks to the tracker from an ephemeral socket (query works unregistered).
//
// User -> user messages (to the follower's p2; setup and teardown are acknowledged and retried):
//   setup <id> @tweeter @left @right right_ip right_port   my place in @tweeter's ring
//   teardown <id> @tweeter                                 forget @tweeter's ring
//   forward @tweeter @from <round> <text>                  the tweet itself, passed to the right
// A tweet is acknowledged end to end: by coming back to its tweeter. A round not back in time is
// sent round again (same round number: followers pass every copy on but print a round once).
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common.hpp"

using namespace tw;

namespace {

constexpr double TRACKER_TIMEOUT = 0.25;  // first wait for the tracker; doubles each try
constexpr int TRACKER_TRIES = 5;
constexpr double RING_TIMEOUT = 0.2;      // the same for setups and teardowns
constexpr int RING_TRIES = 4;
constexpr double ROUND_TIMEOUT = 0.5;     // a tweet not back by then is sent round again
constexpr double RETURN_TIMEOUT = 4.0;    // ... and given up (end-tweet sent anyway) after this
constexpr double BUSY_PATIENCE = 10.0;    // seconds a command answered BUSY keeps being retried
constexpr double BUSY_FIRST_PAUSE = 0.05, BUSY_MAX_PAUSE = 0.8;
constexpr size_t MEMORY_SIZE = 1024;      // ring requests answered and tweet rounds printed
constexpr size_t MAX_LINE = 4096;
const char* const BLANKS = " \t\r\n\v\f";  // what separates the words of a typed line

const std::vector<std::pair<std::string, std::string>> USAGE = {
    {"register", "register @handle IPv4 port1 port2 port3"},
    {"query", "query handles"},
    {"follow", "follow @follower @followed"},
    {"drop", "drop @follower @followed"},
    {"tweet", "tweet @handle \"text\""},
    {"end-tweet", "end-tweet @handle"},
    {"exit", "exit @handle"},
};

struct Reply {
    bool ok = false;
    bool busy = false;
    std::string rest;  // the fields of a SUCCESS, the reason of a FAILURE
};
using OnAnswer = std::function<void(const Reply*)>;  // nullptr: no answer at all

struct Peer {
    std::string handle;
    Address address;  // its ring-in (p2)
};

// What one follower holds of my ring, as I set it up.
struct Holding {
    Address address;
    std::string left, right;
    Address right_address;
    bool operator==(const Holding& o) const {
        return address == o.address && left == o.left && right == o.right && right_address == o.right_address;
    }
};

// What I know, as a follower, of one tweeter's ring.
struct RingState {
    std::string left, right;
    Address right_address;
};

// A request waiting for its reply.
struct Pending {
    std::string data;
    int fd;
    Address to;
    double timeout;
    int tries_left;
    double deadline;
    std::function<void(const Reply&)> on_reply;
    std::function<void()> on_give_up;
};

// A command sent to the tracker, kept to ask again while the tracker is busy.
struct Ask {
    std::string op, body;
    int fd;
    OnAnswer on_answer;
    double started;
    double pause;
};

struct Command {
    std::string name;  // empty for a blank line
    std::vector<std::string> args;
    std::string label() const { return name == "query" ? "query handles" : name; }
};

std::string strip(const std::string& text) {
    size_t first = text.find_first_not_of(BLANKS);
    if (first == std::string::npos) return "";
    return text.substr(first, text.find_last_not_of(BLANKS) - first + 1);
}

// The command typed on `line`; false and an "error: ...; usage: ..." line if it is malformed.
bool parse_command(const std::string& line, Command& command, std::string& error) {
    std::vector<std::string> words = split_words(line);
    command = Command{};
    if (words.empty()) return true;
    auto usage = std::find_if(USAGE.begin(), USAGE.end(), [&](const auto& u) { return u.first == words[0]; });
    if (usage == USAGE.end()) {
        std::string all;
        for (const auto& u : USAGE) all += (all.empty() ? "" : " | ") + u.second;
        error = "error: unknown command '" + words[0] + "'; usage: " + all;
        return false;
    }
    command.name = words[0];
    if (command.name == "tweet") {
        // tweet @handle "text": the text lies between the quote after the handle and the last quote
        // on the line (so it may contain quotes itself)
        std::string text = strip(line);
        size_t handle_start = text.find_first_not_of(BLANKS, 5);  // 5: after "tweet"
        size_t handle_end = text.find_first_of(BLANKS, handle_start);
        size_t quote = text.find_first_not_of(BLANKS, handle_end);
        if (quote == std::string::npos || text[quote] != '"' || text.size() - quote < 2 || text.back() != '"') {
            error = "error: the tweet text must follow the handle, in double quotes; usage: " + usage->second;
            return false;
        }
        command.args = {text.substr(handle_start, handle_end - handle_start),
                        text.substr(quote + 1, text.size() - quote - 2)};
        return true;
    }
    size_t wanted = command.name == "register" ? 6 : command.name == "follow" || command.name == "drop" ? 3 : 2;
    if (words.size() != wanted || (command.name == "query" && words[1] != "handles")) {
        error = "error: " +
                (command.name == "query" ? std::string("did you mean 'query handles'?")
                                         : command.name + " takes " + std::to_string(wanted - 1) + " argument(s)") +
                "; usage: " + usage->second;
        return false;
    }
    command.args.assign(words.begin() + 1, words.end());
    return true;
}

bool parse_reply(const std::string& data, uint64_t& id, Reply& reply) {
    Fields fields(data);
    std::string op, code;
    if (!fields.word(op) || op != "reply" || !fields.number(id) || !fields.word(code)) return false;
    reply.ok = code == "SUCCESS";
    reply.busy = code == "BUSY";
    reply.rest = fields.rest();
    return reply.ok || reply.busy || code == "FAILURE";
}

// "<n> @f1 ip port ..." as a list of peers.
bool parse_peers(Fields& fields, std::vector<Peer>& peers) {
    uint64_t count;
    if (!fields.number(count) || count > 100000) return false;
    for (uint64_t i = 0; i < count; i++) {
        Peer peer;
        if (!fields.handle(peer.handle) || !fields.word(peer.address.ip) || !is_ipv4(peer.address.ip) ||
            !fields.port(peer.address.port)) {
            return false;
        }
        peers.push_back(peer);
    }
    return fields.at_end();
}

std::string reason(const Reply* reply) {
    if (!reply) return "no answer from tracker";
    return reply->rest.empty() ? "tracker gave no reason" : reply->rest;
}

class User {
public:
    explicit User(const Address& tracker) : tracker_(tracker), next_id_(first_id()), next_round_(first_id()) {}

    int run() {
        say("user: tracker at " + show(tracker_));
        std::string error;
        ephemeral_ = open_udp({"0.0.0.0", 0}, error);
        if (ephemeral_ < 0) {
            say("user: cannot open a socket: " + error);
            return 1;
        }
        while (!exit_status_) {
            std::vector<pollfd> watched;
            if (stdin_open_) watched.push_back({0, POLLIN, 0});
            for (int fd : {ephemeral_, sockets_[0], sockets_[1], sockets_[2]}) {
                if (fd >= 0) watched.push_back({fd, POLLIN, 0});
            }
            poll(watched.data(), watched.size(), sleep_ms());
            for (const pollfd& p : watched) {
                if (!(p.revents & (POLLIN | POLLERR | POLLHUP))) continue;
                if (p.fd == 0) {
                    on_stdin();
                } else if (p.fd == sockets_[1] && registered_) {
                    on_ring_in();
                } else {
                    on_replies(p.fd);
                }
                if (exit_status_) break;
            }
            run_due();
        }
        return *exit_status_;
    }

private:
    Address tracker_;
    uint64_t next_id_;
    std::map<uint64_t, Pending> outbox_;  // requests by id, until answered or given up
    std::multimap<double, std::function<void()>> timers_;
    std::optional<int> exit_status_;

    // the console
    std::deque<std::string> lines_;  // typed, not yet run
    std::string stdin_buffer_;
    bool stdin_open_ = true;
    bool active_ = false;  // a command is running

    // my registration
    int ephemeral_ = -1;              // talks to the tracker until I register
    int sockets_[3] = {-1, -1, -1};   // p1, p2 (ring-in), p3 (ring-out)
    bool registered_ = false;
    std::string me_;
    Address ring_in_address_;

    // my own ring, as the tweeter
    std::vector<Peer> ring_;  // my followers, in ring order
    bool has_ring_ = false;   // a ring exists once I have tweeted
    std::map<std::string, Holding> holders_;
    uint64_t version_ = 0;    // of the follower list I last adopted
    bool have_version_ = false;
    std::map<std::string, int> in_flight_;  // "setup"/"teardown" -> not yet acknowledged
    std::map<std::string, std::vector<std::function<void()>>> when_settled_;
    uint64_t next_round_;
    uint64_t round_ = 0;
    bool round_open_ = false;
    std::string round_text_, round_data_;

    // other users' rings, as a follower
    std::map<std::string, RingState> rings_;
    std::map<std::string, uint64_t> last_ring_id_;  // newest setup/teardown applied, per tweeter
    Recent answered_{MEMORY_SIZE};  // "ip:port#id" -> my reply to that ring request
    Recent printed_{MEMORY_SIZE};   // "@tweeter#round" of the tweets I printed

    // ---- the event loop -------------------------------------------------------------------------

    int sleep_ms() const {
        double next = -1;
        if (!timers_.empty()) next = timers_.begin()->first;
        for (const auto& entry : outbox_) {
            if (next < 0 || entry.second.deadline < next) next = entry.second.deadline;
        }
        if (next < 0) return -1;
        return static_cast<int>(std::ceil(std::max(0.0, next - now()) * 1000));
    }

    void run_due() {
        double t = now();
        std::vector<uint64_t> expired;
        for (auto& [id, pending] : outbox_) {
            if (pending.deadline > t) continue;
            if (pending.tries_left == 0) {
                expired.push_back(id);
            } else {
                pending.tries_left--;
                pending.timeout *= 2;
                pending.deadline = t + pending.timeout;
                send_datagram(pending.fd, pending.data, pending.to);
            }
        }
        for (uint64_t id : expired) {
            auto give_up = std::move(outbox_.at(id).on_give_up);
            outbox_.erase(id);
            give_up();
        }
        while (!timers_.empty() && timers_.begin()->first <= t) {
            auto callback = std::move(timers_.begin()->second);
            timers_.erase(timers_.begin());
            callback();
        }
    }

    void after(double delay, std::function<void()> callback) { timers_.emplace(now() + delay, std::move(callback)); }

    void request(int fd, const Address& to, const std::string& op, const std::string& body,
                 std::function<void(const Reply&)> on_reply, std::function<void()> on_give_up, double timeout,
                 int tries) {
        uint64_t id = next_id_++;
        Pending pending{op + " " + std::to_string(id) + (body.empty() ? "" : " " + body),
                        fd, to, timeout, tries - 1, now() + timeout, std::move(on_reply), std::move(on_give_up)};
        send_datagram(fd, pending.data, to);
        outbox_.emplace(id, std::move(pending));
    }

    // A datagram at p1, p3 or the ephemeral socket: the answer to one of my requests.
    void on_replies(int fd) {
        std::string data;
        Address from;
        while (receive_datagram(fd, data, from)) {
            uint64_t id;
            Reply reply;
            if (!parse_reply(data, id, reply)) {
                trace("dropped: not a reply (this socket takes only replies)");
                continue;
            }
            auto found = outbox_.find(id);
            if (found == outbox_.end()) {
                trace("late or duplicate reply ignored");
                continue;
            }
            auto on_reply = std::move(found->second.on_reply);
            outbox_.erase(found);
            on_reply(reply);
        }
    }

    // ---- the console ----------------------------------------------------------------------------

    void on_stdin() {
        char buffer[65536];
        ssize_t got = read(0, buffer, sizeof buffer);
        if (got < 0 && errno == EINTR) return;
        if (got <= 0) {  // end of input (a closed pty reports an error instead)
            stdin_open_ = false;
            if (!stdin_buffer_.empty()) stdin_buffer_ += '\n';  // a last line without newline still counts
        } else {
            stdin_buffer_.append(buffer, static_cast<size_t>(got));
        }
        size_t newline;
        while ((newline = stdin_buffer_.find('\n')) != std::string::npos) {
            std::string line = stdin_buffer_.substr(0, newline);
            stdin_buffer_.erase(0, newline + 1);
            if (!line.empty() && line.back() == '\r') line.pop_back();
            lines_.push_back(utf8_clean(line));
        }
        if (stdin_buffer_.size() > MAX_LINE) {  // never buffer a "line" without end for ever
            lines_.push_back(utf8_clean(stdin_buffer_));
            stdin_buffer_.clear();
        }
        next_command();
    }

    // Start typed commands until one has to wait; leave once input is over and nothing is left.
    void next_command() {
        while (!active_ && !lines_.empty() && !exit_status_) {
            std::string line = lines_.front();
            lines_.pop_front();
            Command command;
            std::string error;
            if (!parse_command(line, command, error)) {
                say(error);
            } else if (!command.name.empty()) {
                active_ = true;
                start(command);
            }
        }
        if (!active_ && lines_.empty() && !stdin_open_ && !exit_status_) {
            trace("stdin closed: leaving");
            exit_status_ = 0;
        }
    }

    // Print a command's result line and go on with the next command.
    void finish(const std::string& line) {
        say(line);
        active_ = false;
        next_command();
    }

    void start(const Command& c) {
        std::string problem = local_problem(c);
        if (!problem.empty()) {
            finish(c.label() + ": FAILURE " + problem);
        } else if (c.name == "register") {
            do_register(c.args[0], c.args[1], {c.args[2], c.args[3], c.args[4]});
        } else if (c.name == "query") {
            do_query();
        } else if (c.name == "follow" || c.name == "drop") {
            do_follow(c.name, c.args[0], c.args[1]);
        } else if (c.name == "tweet") {
            do_tweet(c.args[1]);
        } else if (c.name == "end-tweet") {
            end_tweet();
        } else {
            do_exit();
        }
    }

    // Why a command naming its actor fails before anything is sent, or "".
    std::string local_problem(const Command& c) const {
        if (c.name == "register" || c.name == "query") return "";
        size_t named = c.name == "follow" || c.name == "drop" ? 2 : 1;
        for (size_t i = 0; i < named; i++) {
            if (!is_handle(c.args[i])) return "invalid handle " + c.args[i] + " (@ and 1 to 15 letters)";
        }
        if (!registered_) return "not registered";
        if (c.args[0] != me_) return "not your handle: " + c.args[0] + " (this user is " + me_ + ")";
        return "";
    }

    // ---- talking to the tracker -----------------------------------------------------------------

    // Send a command to the tracker; on_answer(reply), or on_answer(nullptr) if it never answers.
    // A BUSY answer (another user's tweet is in progress) is asked again after a growing pause,
    // for up to BUSY_PATIENCE seconds: so two tweets typed at once are both delivered.
    void ask(const std::string& op, const std::string& body, OnAnswer on_answer, int via = -1) {
        int fd = via >= 0 ? via : registered_ ? sockets_[0] : ephemeral_;
        send_ask(std::make_shared<Ask>(Ask{op, body, fd, std::move(on_answer), now(), BUSY_FIRST_PAUSE}));
    }

    void send_ask(std::shared_ptr<Ask> ask) {
        request(
            ask->fd, tracker_, ask->op, ask->body,
            [this, ask](const Reply& reply) {
                if (reply.busy && now() + ask->pause - ask->started < BUSY_PATIENCE) {
                    char pause[32];
                    std::snprintf(pause, sizeof pause, "%g", ask->pause);
                    trace(std::string("tracker busy: asking again in ") + pause + " s");
                    after(ask->pause, [this, ask] { send_ask(ask); });
                    ask->pause = std::min(2 * ask->pause, BUSY_MAX_PAUSE);
                } else {
                    ask->on_answer(&reply);
                }
            },
            [ask] { ask->on_answer(nullptr); }, TRACKER_TIMEOUT, TRACKER_TRIES);
    }

    // An on_answer that prints the result line of a one-step command.
    OnAnswer result(const std::string& label, const std::string& success = "") {
        return [this, label, success](const Reply* reply) {
            if (reply && reply->ok) {
                finish(label + ": SUCCESS" + (success.empty() ? "" : " " + success));
            } else {
                finish(label + ": FAILURE " + reason(reply));
            }
        };
    }

    // ---- the commands ---------------------------------------------------------------------------

    void do_register(const std::string& handle, const std::string& ip, const std::vector<std::string>& words) {
        std::string problem;
        int ports[3];
        if (registered_) {
            problem = "already registered as " + me_;
        } else if (!is_handle(handle)) {
            problem = "invalid handle " + handle + " (@ and 1 to 15 letters)";
        } else if (!is_ipv4(ip)) {
            problem = "invalid IPv4 address " + ip;
        } else {
            for (int i = 0; i < 3 && problem.empty(); i++) {
                if (!parse_port(words[i], ports[i])) problem = "invalid port " + words[i] + " (1-65535)";
            }
            if (problem.empty() && (ports[0] == ports[1] || ports[0] == ports[2] || ports[1] == ports[2])) {
                problem = "the three ports must differ";
            }
        }
        if (!problem.empty()) {
            finish("register: FAILURE " + problem);
            return;
        }
        for (int i = 0; i < 3; i++) {
            std::string error;
            sockets_[i] = open_udp({ip, ports[i]}, error);
            if (sockets_[i] < 0) {
                close_sockets();
                finish("register: FAILURE cannot bind " + ip + ":" + words[i] + ": " + error);
                return;
            }
        }
        std::string body = handle + " " + ip + " " + words[0] + " " + words[1] + " " + words[2];
        ask("register", body, [this, handle, ip, ports](const Reply* reply) {
            if (!reply || !reply->ok) {
                close_sockets();
                finish("register: FAILURE " + reason(reply));
                return;
            }
            registered_ = true;
            me_ = handle;
            ring_in_address_ = {ip, ports[1]};
            close(ephemeral_);
            ephemeral_ = -1;
            finish("register: SUCCESS " + handle);
        }, sockets_[0]);
    }

    void close_sockets() {
        for (int& fd : sockets_) {
            if (fd >= 0) close(fd);
            fd = -1;
        }
    }

    void do_query() {
        ask("query", "", [this](const Reply* reply) {
            if (!reply || !reply->ok) {
                finish("query handles: FAILURE " + reason(reply));
                return;
            }
            Fields fields(reply->rest);
            uint64_t count = 0;
            bool valid = fields.number(count);
            std::string line = "query handles: SUCCESS " + std::to_string(count);
            for (uint64_t i = 0; valid && i < count; i++) {
                std::string handle;
                valid = fields.handle(handle);
                line += " " + handle;
            }
            finish(valid && fields.at_end() ? line : "query handles: FAILURE malformed answer from tracker");
        });
    }

    void do_follow(const std::string& command, const std::string& handle, const std::string& target) {
        std::string success = command == "follow" ? handle + " follows " + target : handle + " dropped " + target;
        ask(command, handle + " " + target, result(command, success));
    }

    void end_tweet() { ask("end-tweet", me_, result("end-tweet")); }

    void do_tweet(const std::string& text) {
        if (char_count(text) > MAX_TWEET) {
            finish("tweet: FAILURE " + too_long(text));
            return;
        }
        ask("tweet", me_ + " " + text, [this, text](const Reply* reply) {
            if (!reply || !reply->ok) {
                finish("tweet: FAILURE " + reason(reply));
                return;
            }
            Fields fields(reply->rest);
            uint64_t version;
            std::vector<Peer> followers;
            if (!fields.number(version) || !parse_peers(fields, followers)) {
                // the tracker clears the tweet after its timeout
                finish("tweet: FAILURE malformed answer from tracker");
                return;
            }
            std::string line = "tweet: SUCCESS " + std::to_string(followers.size()) + " followers";
            for (const Peer& peer : followers) line += " " + peer.handle;
            say(line);
            adopt_version(version);
            set_up_ring(followers);
            after_all("setup", [this, text] { send_round(text); });
        });
    }

    // Send the tweet to my first follower; its coming back round the ring ends it.
    void send_round(const std::string& text) {
        round_ = next_round_++;
        round_open_ = true;
        round_text_ = text;
        if (ring_.empty()) {
            round_returned();
            return;
        }
        round_data_ = "forward " + me_ + " " + me_ + " " + std::to_string(round_) + " " + text;
        send_datagram(sockets_[2], round_data_, ring_[0].address);
        uint64_t number = round_;
        after(ROUND_TIMEOUT, [this, number] { send_round_again(number, ROUND_TIMEOUT); });
        after(RETURN_TIMEOUT, [this, number] {
            if (round_open_ && round_ == number) {
                round_open_ = false;
                trace("my tweet did not come back in time: ending it");
                end_tweet();
            }
        });
    }

    void send_round_again(uint64_t number, double pause) {
        if (!round_open_ || round_ != number || ring_.empty()) return;
        trace("my tweet is not back yet: sending it round again");
        send_datagram(sockets_[2], round_data_, ring_[0].address);
        after(2 * pause, [this, number, pause] { send_round_again(number, 2 * pause); });
    }

    void round_returned() {
        round_open_ = false;
        say(me_ + " tweet returned: \"" + round_text_ + "\"");
        end_tweet();  // its result line ends the tweet command
    }

    // exit: the tracker takes me out of other rings; I tear mine down, then confirm.
    void do_exit() {
        ask("exit", me_, [this](const Reply* reply) {
            if (!reply || !reply->ok) {
                finish("exit: FAILURE " + reason(reply));
                return;
            }
            std::vector<std::string> holders;
            for (const auto& entry : holders_) holders.push_back(entry.first);
            for (const std::string& handle : holders) send_teardown(handle);
            after_all("teardown", [this] {
                ask("exit-complete", me_, [this](const Reply* confirmed) {
                    if (!confirmed || !confirmed->ok) {
                        finish("exit: FAILURE " + reason(confirmed));
                        return;
                    }
                    exit_status_ = 0;
                    finish("exit: SUCCESS exit-complete");
                });
            });
        });
    }

    // ---- my ring, as the tweeter ----------------------------------------------------------------

    // Every follower must hold its neighbours in the ring me, f1, ..., fn; those no longer in it are
    // torn down. Only followers whose neighbours changed get a message.
    void set_up_ring(const std::vector<Peer>& followers) {
        ring_ = followers;
        has_ring_ = true;
        std::vector<Peer> members = {Peer{me_, ring_in_address_}};
        members.insert(members.end(), followers.begin(), followers.end());
        std::map<std::string, Holding> wanted;
        for (size_t i = 1; i < members.size(); i++) {
            const Peer& right = members[(i + 1) % members.size()];
            wanted[members[i].handle] = Holding{members[i].address, members[i - 1].handle, right.handle, right.address};
        }
        std::vector<std::string> gone;
        for (const auto& entry : holders_) {
            if (!wanted.count(entry.first)) gone.push_back(entry.first);
        }
        for (const std::string& handle : gone) send_teardown(handle);
        for (const auto& [handle, holding] : wanted) {
            auto held = holders_.find(handle);
            if (held == holders_.end() || !(held->second == holding)) send_setup(handle, holding);
        }
    }

    void send_setup(const std::string& handle, const Holding& holding) {
        holders_[handle] = holding;
        std::string body = me_ + " " + holding.left + " " + holding.right + " " + holding.right_address.ip + " " +
                           std::to_string(holding.right_address.port);
        send_ring_update(handle, holding.address, "setup", body, [this, handle, holding] {
            // we cannot know what it holds now: set it up again next time
            auto held = holders_.find(handle);
            if (held != holders_.end() && held->second == holding) holders_.erase(held);
        });
    }

    void send_teardown(const std::string& handle) {
        Address address = holders_.at(handle).address;
        holders_.erase(handle);
        send_ring_update(handle, address, "teardown", me_, [] {});
    }

    // A setup or teardown, counted until it is acknowledged or given up.
    void send_ring_update(const std::string& handle, const Address& to, const std::string& op,
                          const std::string& body, std::function<void()> on_give_up) {
        in_flight_[op]++;
        request(
            sockets_[2], to, op, body, [this, op](const Reply&) { ring_update_done(op); },
            [this, handle, op, on_give_up] {
                trace(handle + " did not acknowledge " + op);
                on_give_up();
                ring_update_done(op);
            },
            RING_TIMEOUT, RING_TRIES);
    }

    void ring_update_done(const std::string& op) {
        if (--in_flight_[op] > 0) return;
        std::vector<std::function<void()>> waiting;
        waiting.swap(when_settled_[op]);
        for (auto& callback : waiting) callback();
    }

    // Run `callback` once every setup (before a tweet) or teardown (before exit-complete) sent has
    // been acknowledged or given up. A tweet does not wait for teardowns: they go to users who left
    // the ring, often because they are exiting and will not answer.
    void after_all(const std::string& op, std::function<void()> callback) {
        if (in_flight_[op] == 0) {
            callback();
        } else {
            when_settled_[op].push_back(std::move(callback));
        }
    }

    // Follower lists come with a version (from the tweet reply or a ring notice): false for one not
    // newer than the list adopted last.
    bool adopt_version(uint64_t version) {
        if (have_version_ && version <= version_) return false;
        version_ = version;
        have_version_ = true;
        return true;
    }

    // ---- ring-in: what peers and the tracker send me --------------------------------------------

    void on_ring_in() {
        std::string data;
        Address from;
        while (receive_datagram(sockets_[1], data, from)) {
            Fields fields(data);
            std::string op;
            uint64_t id;
            if (!fields.word(op)) {
                trace("dropped: empty datagram");
            } else if (op == "forward") {
                on_forward(fields);
            } else if ((op == "setup" || op == "teardown" || op == "ring") && fields.number(id)) {
                on_ring_request(op, id, fields, from);
            } else {
                trace("dropped: not a message this socket takes");
            }
        }
    }

    // Apply a setup, teardown or ring notice once, and acknowledge every copy of it.
    void on_ring_request(const std::string& op, uint64_t id, Fields& fields, const Address& from) {
        std::string key = show(from) + "#" + std::to_string(id);
        std::string answer;
        if (const std::string* cached = answered_.get(key)) {
            trace("repeated request: acknowledged again, not applied again");
            answer = *cached;
        } else {
            std::string problem = op == "setup" ? on_setup(id, fields) : op == "teardown" ? on_teardown(id, fields)
                                                                                             : on_ring_notice(fields);
            answer = "reply " + std::to_string(id) + (problem.empty() ? " SUCCESS" : " FAILURE " + problem);
            answered_.put(key, answer);
        }
        send_datagram(sockets_[1], answer, from);
    }

    // A setup or teardown overtaken by a newer one from the same tweeter (a late retry) is ignored.
    bool is_stale(const std::string& tweeter, uint64_t id) {
        auto last = last_ring_id_.find(tweeter);
        if (last != last_ring_id_.end() && id < last->second) {
            trace("older ring message of " + tweeter + " ignored");
            return true;
        }
        last_ring_id_[tweeter] = id;
        return false;
    }

    std::string on_setup(uint64_t id, Fields& fields) {
        std::string tweeter;
        RingState state;
        if (!fields.handle(tweeter) || !fields.handle(state.left) || !fields.handle(state.right) ||
            !fields.word(state.right_address.ip) || !is_ipv4(state.right_address.ip) ||
            !fields.port(state.right_address.port)) {
            return "malformed setup";
        }
        if (tweeter == me_) return "I am the tweeter of my own ring, not a follower in it";
        if (!is_stale(tweeter, id)) {
            rings_[tweeter] = state;
            say(me_ + " ring of " + tweeter + ": left " + state.left + " right " + state.right);
        }
        return "";
    }

    std::string on_teardown(uint64_t id, Fields& fields) {
        std::string tweeter;
        if (!fields.handle(tweeter)) return "malformed teardown";
        if (!is_stale(tweeter, id) && rings_.erase(tweeter)) say(me_ + " ring of " + tweeter + ": torn down");
        return "";
    }

    // The tracker's new follower list for my ring: update the ring if I have one.
    std::string on_ring_notice(Fields& fields) {
        std::string owner;
        uint64_t version;
        std::vector<Peer> followers;
        if (!fields.handle(owner) || !fields.number(version) || !parse_peers(fields, followers)) {
            return "malformed ring notice";
        }
        if (owner != me_) return "not my ring";
        if (!adopt_version(version)) {
            trace("follower list version " + std::to_string(version) + " is not newer: ignored");
        } else if (has_ring_) {
            set_up_ring(followers);
        }
        return "";
    }

    // A tweet: mine coming back, or one to pass on to my right neighbour in its tweeter's ring.
    void on_forward(Fields& fields) {
        std::string tweeter, sender;
        uint64_t round;
        if (!fields.handle(tweeter) || !fields.handle(sender) || !fields.number(round)) {
            trace("dropped: malformed tweet");
            return;
        }
        std::string text = fields.rest();
        if (char_count(text) > MAX_TWEET || text.find_first_of("\r\n") != std::string::npos ||
            utf8_clean(text) != text) {
            trace("dropped: tweet text too long, not one line or not UTF-8");
            return;
        }
        if (tweeter == me_) {
            if (round_open_ && round == round_) {
                round_returned();
            } else {
                trace("round " + std::to_string(round) + " of my tweets is not the one out: ignored");
            }
            return;
        }
        auto ring = rings_.find(tweeter);
        if (ring == rings_.end()) {
            trace("dropped: a tweet of " + tweeter + ", whose ring I am not in");
            return;
        }
        // pass it on first: the rest of the ring should not wait for my printing
        send_datagram(sockets_[2], "forward " + tweeter + " " + me_ + " " + std::to_string(round) + " " + text,
                      ring->second.right_address);
        std::string key = tweeter + "#" + std::to_string(round);
        if (printed_.get(key)) {
            trace("round " + std::to_string(round) + " of " + tweeter + " again: passed on, not printed again");
            return;
        }
        printed_.put(key, "");
        say(me_ + " received tweet from " + tweeter + " via " + sender + ": \"" + text + "\"");
    }
};

}  // namespace

int main(int argc, char** argv) {
    int port;
    if (argc != 3 || !is_ipv4(argv[1]) || !parse_port(argv[2], port)) {
        std::fprintf(stderr, "usage: %s TRACKER_IPv4 TRACKER_PORT\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    return User({argv[1], port}).run();
}
