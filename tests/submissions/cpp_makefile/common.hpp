// Shared by tracker.cpp and user.cpp: field checks, UDP helpers, console output and the
// tiny parser of our text wire format.
//
// Wire format: one message per UDP datagram, words separated by single spaces. A request is
// "<op> <id> <fields...>"; its answer is "reply <id> SUCCESS <fields...>",
// "reply <id> FAILURE <reason>" or "reply <id> BUSY <reason>" (a FAILURE because a tweet is in
// progress: the user asks again later). Tweet text is always the last field and runs to the end of
// the datagram, so it needs no escaping. The messages are listed at the top of tracker.cpp (user <->
// tracker) and user.cpp (user <-> user).
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>
#include <vector>

namespace tw {

constexpr size_t MAX_TWEET = 140;       // characters
constexpr size_t MAX_DATAGRAM = 65507;  // largest UDP payload over IPv4

// ---- values -------------------------------------------------------------------------------------

bool is_handle(const std::string& word);  // '@' and 1 to 15 letters
bool is_ipv4(const std::string& word);    // dotted-decimal unicast address
bool parse_port(const std::string& word, int& port);  // 1..65535, digits only
size_t char_count(const std::string& text);  // UTF-8 characters
std::string too_long(const std::string& text);  // the reason for a tweet over MAX_TWEET
std::vector<std::string> split_words(const std::string& line);  // split on blanks
// `text` with every byte that is not part of a valid UTF-8 character replaced by '?'
std::string utf8_clean(const std::string& text);

struct Address {
    std::string ip;
    int port = 0;
    bool operator==(const Address& other) const { return ip == other.ip && port == other.port; }
    bool operator!=(const Address& other) const { return !(*this == other); }
};
std::string show(const Address& address);  // "ip:port"

// ---- time and ids -------------------------------------------------------------------------------

double now();          // monotonic clock, seconds
uint64_t first_id();   // wall clock in microseconds: ids keep growing even across restarts

// ---- UDP ----------------------------------------------------------------------------------------

// A bound, non-blocking UDP socket, or -1 with `error` set.
int open_udp(const Address& bind_to, std::string& error);
// Send one datagram and trace it.
void send_datagram(int fd, const std::string& data, const Address& to);
// Receive one datagram (false when none is waiting) and trace it.
bool receive_datagram(int fd, std::string& data, Address& from);

// ---- console ------------------------------------------------------------------------------------

void say(const std::string& line);     // one line on stdout, flushed at once
void trace(const std::string& text);   // "[trace] text"

// ---- parsing a message --------------------------------------------------------------------------

class Fields {
public:
    explicit Fields(const std::string& data) : data_(data) {}
    bool word(std::string& out);    // the next word
    bool number(uint64_t& out);     // the next word as a non-negative number
    bool handle(std::string& out);  // the next word as a valid handle
    bool port(int& out);
    std::string rest();             // everything after the separator that follows the last word
    bool at_end() const { return pos_ >= data_.size(); }

private:
    const std::string& data_;
    size_t pos_ = 0;
};

// The last `size` keys seen, with a value each: replies remembered to answer a repeated request
// the same way, or tweet rounds already printed.
class Recent {
public:
    explicit Recent(size_t size) : size_(size) {}
    const std::string* get(const std::string& key) const;
    void put(const std::string& key, const std::string& value);

private:
    size_t size_;
    std::unordered_map<std::string, std::string> items_;
    std::deque<std::string> order_;
};

}  // namespace tw
