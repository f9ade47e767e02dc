// Creation bytecode and ABI of tests/eth/Store.sol, produced by
//   node_modules/.bin/solcjs --bin --abi --optimize Store.sol   (solc 0.8.28+commit.7893614a)
// and checked by the tests (deploy, call, events, each revert kind).
#pragma once

#include <string_view>

namespace zeppelin::test {

inline constexpr std::string_view kStoreBytecode =
    "6080604052348015600e575f5ffd5b506102638061001c5f395ff3fe608060405234801561000f575f5ffd5b506004361061004a575f3560e01c80636057361d1461004e5780636d4ce63c1461006357806378122f3a14610078578063f88e9fbf1461008b575b5f5ffd5b61006161005c36600461013b565b61009e565b005b5f545b60405190815260200160405180910390f35b610061610086366004610152565b61010d565b6100666100993660046101c0565b610129565b6103e88111156100d15760405163677fd0e360e01b8152600481018290526103e860248201526044015b60405180910390fd5b5f81905560405181815233907febfcf7c0a1b09f6499e519a8d8bb85ce33cd539ec6cbd964e116cd74943ead1a9060200160405180910390a250565b818160405162461bcd60e51b81526004016100c89291906101e0565b5f610134828461020e565b9392505050565b5f6020828403121561014b575f5ffd5b5035919050565b5f5f60208385031215610163575f5ffd5b823567ffffffffffffffff811115610179575f5ffd5b8301601f81018513610189575f5ffd5b803567ffffffffffffffff81111561019f575f5ffd5b8560208284010111156101b0575f5ffd5b6020919091019590945092505050565b5f5f604083850312156101d1575f5ffd5b50508035926020909101359150565b60208152816020820152818360408301375f818301604090810191909152601f909201601f19160101919050565b5f8261022857634e487b7160e01b5f52601260045260245ffd5b50049056fea2646970667358221220d0bbb1c6abc1d3d47520242e9274c80f55fcb7fc70316eed13d369a653341de664736f6c634300081c0033";

inline constexpr std::string_view kStoreAbi = R"([{"inputs":[{"internalType":"uint256","name":"value","type":"uint256"},{"internalType":"uint256","name":"max","type":"uint256"}],"name":"TooLarge","type":"error"},{"anonymous":false,"inputs":[{"indexed":true,"internalType":"address","name":"who","type":"address"},{"indexed":false,"internalType":"uint256","name":"value","type":"uint256"}],"name":"Stored","type":"event"},{"inputs":[{"internalType":"uint256","name":"a","type":"uint256"},{"internalType":"uint256","name":"b","type":"uint256"}],"name":"divide","outputs":[{"internalType":"uint256","name":"","type":"uint256"}],"stateMutability":"pure","type":"function"},{"inputs":[{"internalType":"string","name":"reason","type":"string"}],"name":"fail","outputs":[],"stateMutability":"pure","type":"function"},{"inputs":[],"name":"get","outputs":[{"internalType":"uint256","name":"","type":"uint256"}],"stateMutability":"view","type":"function"},{"inputs":[{"internalType":"uint256","name":"v","type":"uint256"}],"name":"store","outputs":[],"stateMutability":"nonpayable","type":"function"}])";

}  // namespace zeppelin::test
