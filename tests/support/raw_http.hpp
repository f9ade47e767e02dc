// A raw HTTP/1.1 client for tests of the node's servers: the bytes sent are exactly the bytes
// given, so malformed and hostile requests can be written as easily as good ones.
#pragma once

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <cstdint>
#include <string>
#include <string_view>

namespace zeppelin::test {

// A raw client: sends `request` verbatim on a fresh connection.
class RawClient {
public:
    RawClient(std::uint16_t port, std::string_view request) {
        socket_.connect({boost::asio::ip::make_address("127.0.0.1"), port});
        boost::asio::write(socket_, boost::asio::buffer(request));
    }
    /// Reads until `needle` has arrived (or EOF) and returns everything read so far.
    std::string read_until(std::string_view needle) {
        while (data_.find(needle) == std::string::npos && read_more()) {
        }
        return data_;
    }
    std::string read_all() {
        while (read_more()) {
        }
        return data_;
    }
    void close() { socket_.close(); }

private:
    bool read_more() {
        char buf[4096];
        boost::system::error_code ec;
        const std::size_t n = socket_.read_some(boost::asio::buffer(buf), ec);
        data_.append(buf, n);
        return !ec;
    }

    boost::asio::io_context io_;
    boost::asio::ip::tcp::socket socket_{io_};
    std::string data_;
};

struct Reply {
    unsigned status{0};
    std::string head;
    std::string body;
};

// One HTTP/1.1 request with Connection: close; splits the reply into head and (unchunked) body.
inline Reply request(std::uint16_t port, std::string_view method, std::string_view target, std::string_view body = {},
              std::string_view extra_headers = {}) {
    std::string text = std::string{method} + " " + std::string{target} + " HTTP/1.1\r\nHost: localhost\r\n" +
                       "Connection: close\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" +
                       std::string{extra_headers} + "\r\n" + std::string{body};
    const std::string raw = RawClient{port, text}.read_all();
    Reply r;
    const auto end = raw.find("\r\n\r\n");
    if (raw.size() < 12 || end == std::string::npos) return r;
    r.status = static_cast<unsigned>(std::stoi(raw.substr(9, 3)));
    r.head = raw.substr(0, end);
    r.body = raw.substr(end + 4);
    return r;
}

}  // namespace zeppelin::test
