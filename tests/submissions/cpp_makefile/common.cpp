#include "common.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

namespace tw {

constexpr size_t TRACE_CHARS = 200;  // a traced datagram is cut here

bool is_handle(const std::string& word) {
    if (word.size() < 2 || word.size() > 16 || word[0] != '@') return false;
    for (size_t i = 1; i < word.size(); i++) {
        char c = word[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) return false;
    }
    return true;
}

bool is_ipv4(const std::string& word) {
    // inet_pton accepts exactly four decimal numbers 0-255 (no leading "0x", no shortened forms)
    in_addr address{};
    if (inet_pton(AF_INET, word.c_str(), &address) != 1) return false;
    uint32_t value = ntohl(address.s_addr);
    bool multicast = (value >> 28) == 0xE;
    return value != 0 && value != 0xFFFFFFFFu && !multicast;
}

bool parse_port(const std::string& word, int& port) {
    if (word.empty() || word.size() > 5) return false;
    int value = 0;
    for (char c : word) {
        if (c < '0' || c > '9') return false;
        value = value * 10 + (c - '0');
    }
    if (value < 1 || value > 65535) return false;
    port = value;
    return true;
}

size_t char_count(const std::string& text) {
    size_t count = 0;
    for (unsigned char c : text) {
        if ((c & 0xC0) != 0x80) count++;  // continuation bytes do not start a character
    }
    return count;
}

std::string too_long(const std::string& text) {
    return "tweet too long (" + std::to_string(char_count(text)) + " > " + std::to_string(MAX_TWEET) +
           " characters)";
}

std::vector<std::string> split_words(const std::string& line) {
    std::vector<std::string> words;
    std::string word;
    for (char c : line) {
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f') {
            if (!word.empty()) words.push_back(word);
            word.clear();
        } else {
            word += c;
        }
    }
    if (!word.empty()) words.push_back(word);
    return words;
}

std::string utf8_clean(const std::string& text) {
    static const uint32_t smallest[] = {0, 0, 0x80, 0x800, 0x10000};  // shorter forms are overlong
    std::string clean;
    size_t i = 0;
    while (i < text.size()) {
        unsigned char c = text[i];
        size_t length = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
        bool valid = length > 0 && i + length <= text.size();
        if (valid && length > 1) {
            uint32_t code = c & (0x7F >> length);
            for (size_t k = 1; valid && k < length; k++) {
                unsigned char next = text[i + k];
                valid = (next & 0xC0) == 0x80;
                code = code << 6 | (next & 0x3F);
            }
            valid = valid && code >= smallest[length] && code <= 0x10FFFF && !(code >= 0xD800 && code <= 0xDFFF);
        }
        if (valid) {
            clean.append(text, i, length);
            i += length;
        } else {
            clean += '?';
            i++;
        }
    }
    return clean;
}

std::string show(const Address& address) { return address.ip + ":" + std::to_string(address.port); }

double now() {
    using namespace std::chrono;
    return duration<double>(steady_clock::now().time_since_epoch()).count();
}

uint64_t first_id() {
    timeval tv{};
    gettimeofday(&tv, nullptr);
    return static_cast<uint64_t>(tv.tv_sec) * 1000000u + static_cast<uint64_t>(tv.tv_usec);
}

static sockaddr_in to_sockaddr(const Address& address) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(address.port));
    inet_pton(AF_INET, address.ip.c_str(), &sa.sin_addr);
    return sa;
}

int open_udp(const Address& bind_to, std::string& error) {
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) {
        error = strerror(errno);
        return -1;
    }
    sockaddr_in sa = to_sockaddr(bind_to);
    if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0) {
        error = strerror(errno);
        close(fd);
        return -1;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

// A datagram as a trace shows it: valid UTF-8 without control characters, cut after TRACE_CHARS
// characters.
static std::string printable(const std::string& data) {
    std::string shown;
    size_t characters = 0;
    for (char c : utf8_clean(data)) {
        bool starts_character = (static_cast<unsigned char>(c) & 0xC0) != 0x80;
        if (starts_character && ++characters > TRACE_CHARS) break;
        shown += static_cast<unsigned char>(c) < 0x20 || c == 0x7F ? '?' : c;
    }
    return shown;
}

void send_datagram(int fd, const std::string& data, const Address& to) {
    sockaddr_in sa = to_sockaddr(to);
    ssize_t sent = sendto(fd, data.data(), data.size(), 0, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    trace("send " + show(to) + " " + printable(data));
    if (sent < 0) trace(std::string("send failed: ") + strerror(errno));  // a retry will try again
}

bool receive_datagram(int fd, std::string& data, Address& from) {
    static char buffer[MAX_DATAGRAM + 1];
    sockaddr_in sa{};
    socklen_t length = sizeof sa;
    ssize_t got = recvfrom(fd, buffer, sizeof buffer, 0, reinterpret_cast<sockaddr*>(&sa), &length);
    if (got < 0) return false;  // nothing waiting (or a late ICMP error): nothing to do
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &sa.sin_addr, ip, sizeof ip);
    from = Address{ip, ntohs(sa.sin_port)};
    data.assign(buffer, static_cast<size_t>(got));
    trace("recv " + show(from) + " " + printable(data));
    return true;
}

void say(const std::string& line) {
    std::fputs(line.c_str(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
}

void trace(const std::string& text) { say("[trace] " + text); }

bool Fields::word(std::string& out) {
    while (pos_ < data_.size() && data_[pos_] == ' ') pos_++;
    size_t start = pos_;
    while (pos_ < data_.size() && data_[pos_] != ' ') pos_++;
    out = data_.substr(start, pos_ - start);
    return !out.empty();
}

bool Fields::number(uint64_t& out) {
    std::string text;
    if (!word(text) || text.size() > 19) return false;
    uint64_t value = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return false;
        value = value * 10 + static_cast<uint64_t>(c - '0');
    }
    out = value;
    return true;
}

bool Fields::handle(std::string& out) { return word(out) && is_handle(out); }

bool Fields::port(int& out) {
    std::string text;
    return word(text) && parse_port(text, out);
}

std::string Fields::rest() {
    // the last word is followed by exactly one space, then the text (possibly empty)
    std::string text = pos_ + 1 <= data_.size() ? data_.substr(pos_ + 1) : "";
    pos_ = data_.size();
    return text;
}

const std::string* Recent::get(const std::string& key) const {
    auto found = items_.find(key);
    return found == items_.end() ? nullptr : &found->second;
}

void Recent::put(const std::string& key, const std::string& value) {
    if (items_.count(key) == 0) order_.push_back(key);
    items_[key] = value;
    if (order_.size() > size_) {
        items_.erase(order_.front());
        order_.pop_front();
    }
}

}  // namespace tw
