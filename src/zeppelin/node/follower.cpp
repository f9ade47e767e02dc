#include "zeppelin/node/follower.hpp"

#include <algorithm>

namespace zeppelin::node {

Result<Follower> Follower::open(eth::RpcClient& rpc, Database& db, FollowerConfig config) {
    ZP_CHECK(db.exec(
        "CREATE TABLE IF NOT EXISTS follower_blocks (number INTEGER PRIMARY KEY, hash BLOB NOT NULL)"));
    return Follower{rpc, db, config};
}

Result<std::optional<std::uint64_t>> Follower::last_processed() {
    auto q = ZP_TRY(db_->prepare("SELECT MAX(number) FROM follower_blocks"));
    ZP_CHECK(q.bind({}));
    if (!ZP_TRY(q.step()) || q.column_is_null(0)) return std::optional<std::uint64_t>{};
    return std::optional<std::uint64_t>{static_cast<std::uint64_t>(q.column_int(0))};
}

Result<bool> Follower::rewind_if_reorged() {
    // Newest first: the first remembered block still on the chain is the fork point.
    auto q = ZP_TRY(db_->prepare("SELECT number, hash FROM follower_blocks ORDER BY number DESC"));
    ZP_CHECK(q.bind({}));
    bool first = true;
    while (ZP_TRY(q.step())) {
        const auto number = static_cast<std::uint64_t>(q.column_int(0));
        const auto hash = fixed_from<32>(q.column_blob(1));
        auto header = ZP_TRY(rpc_->get_block_header(eth::BlockTag::number(number)));
        if (header && header->hash == hash) {
            if (first) return false;
            auto del = ZP_TRY(db_->prepare("DELETE FROM follower_blocks WHERE number > ?"));
            ZP_CHECK(del.run({static_cast<std::int64_t>(number)}));
            return true;
        }
        if (first && before_rewind_) ZP_CHECK(before_rewind_());
        first = false;
    }
    if (first) return false;  // nothing remembered yet
    // Even the oldest remembered block is gone: start over from the configured start.
    ZP_CHECK(db_->exec("DELETE FROM follower_blocks"));
    return true;
}

Result<std::optional<Hash32>> Follower::remembered(std::uint64_t number) {
    auto q = ZP_TRY(db_->prepare("SELECT hash FROM follower_blocks WHERE number = ?"));
    ZP_CHECK(q.bind({static_cast<std::int64_t>(number)}));
    if (!ZP_TRY(q.step())) return std::optional<Hash32>{};
    return std::optional<Hash32>{fixed_from<32>(q.column_blob(0))};
}

Result<Batch> Follower::next() {
    Batch batch;
    // One request per poll: the head's number, hash and parent. While there is no new block that is
    // all; a new head that is the child of the last block processed also proves there was no re-org
    // and names the hash to remember; a head of the same height with another hash is a re-org.
    const auto head_header = ZP_TRY(rpc_->get_block_header(eth::BlockTag::latest()));
    if (!head_header) return Error{Errc::rpc_bad_reply, "the node reports no latest block"};
    if (head_ && head_header->number == head_->number + 1 && head_header->timestamp > head_->timestamp) {
        const auto gap = std::chrono::milliseconds{(head_header->timestamp - head_->timestamp) * 1000};
        interval_ = interval_.count() == 0 ? gap : (interval_ * 3 + gap) / 4;
    }
    head_ = *head_header;
    const auto head = head_header->number;
    if (head < config_.confirmations) return batch;
    const auto safe_head = head - config_.confirmations;
    const auto seen = ZP_TRY(last_processed());
    std::optional<Hash32> seen_hash;
    if (seen && config_.confirmations == 0) seen_hash = ZP_TRY(remembered(*seen));
    if (seen && *seen == safe_head && (!seen_hash || *seen_hash == head_header->hash)) return batch;
    const bool child_of_seen = seen_hash && head == *seen + 1 && head_header->parent_hash == *seen_hash;
    if (!child_of_seen) batch.reorged = ZP_TRY(rewind_if_reorged());
    const auto last = ZP_TRY(last_processed());
    const auto from = last ? *last + 1 : config_.start_block;
    if (from > safe_head) return batch;
    const auto to = std::min(safe_head, from + config_.max_range - 1);
    eth::LogFilter filter;
    filter.from_block = from;
    filter.to_block = to;
    filter.addresses = {config_.contract};
    batch.logs = ZP_TRY(rpc_->get_logs(filter));
    std::sort(batch.logs.begin(), batch.logs.end(), [](const eth::Log& a, const eth::Log& b) {
        return a.block_number != b.block_number ? a.block_number < b.block_number : a.log_index < b.log_index;
    });
    batch.from_block = from;
    batch.to_block = to;
    if (to == head) batch.to_hash = head_header->hash;
    batch.has_range = true;
    return batch;
}

Result<void> Follower::commit(const Batch& batch) {
    if (!batch.has_range) return {};
    // Remember the hash of the batch's last block (enough to detect a re-org below it on the
    // next step), and prune old entries.
    std::optional<eth::BlockHeader> header;
    if (batch.to_hash) {
        header.emplace();
        header->hash = *batch.to_hash;
    } else {
        header = ZP_TRY(rpc_->get_block_header(eth::BlockTag::number(batch.to_block)));
    }
    if (!header) return Error{Errc::rpc_bad_reply, "node does not know block " + std::to_string(batch.to_block)};
    // If the block we fetched logs for was replaced meanwhile, the logs' block hashes disagree:
    // do not commit, the next step will notice the re-org.
    for (const auto& log : batch.logs)
        if (log.block_number == batch.to_block && log.block_hash != header->hash)
            return Error{Errc::rpc_bad_reply, "chain re-organized while reading block " + std::to_string(batch.to_block)};
    return db_->transaction([&]() -> Result<void> {
        auto ins = ZP_TRY(db_->prepare("INSERT OR REPLACE INTO follower_blocks (number, hash) VALUES (?, ?)"));
        ZP_CHECK(ins.run({static_cast<std::int64_t>(batch.to_block), to_bytes(header->hash)}));
        auto prune = ZP_TRY(db_->prepare(
            "DELETE FROM follower_blocks WHERE number NOT IN "
            "(SELECT number FROM follower_blocks ORDER BY number DESC LIMIT ?)"));
        ZP_CHECK(prune.run({static_cast<std::int64_t>(kMaxRemembered)}));
        return {};
    });
}

}  // namespace zeppelin::node
