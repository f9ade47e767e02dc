# Keystore interop test (zeppelin wallet vs cast wallet). Include from this directory's
# CMakeLists.txt:  include(${CMAKE_CURRENT_SOURCE_DIR}/wallet_interop.cmake)
add_executable(zeppelin_wallet_interop_test ${CMAKE_CURRENT_LIST_DIR}/wallet_interop_test.cpp)
target_include_directories(zeppelin_wallet_interop_test PRIVATE ${PROJECT_SOURCE_DIR}/tests)
target_link_libraries(zeppelin_wallet_interop_test PRIVATE nlohmann_json::nlohmann_json GTest::gtest_main zeppelin_flags)
target_compile_definitions(zeppelin_wallet_interop_test PRIVATE
  ZEPPELIN_SOURCE_DIR="${PROJECT_SOURCE_DIR}" ZEPPELIN_BIN="$<TARGET_FILE:zeppelin>")
add_dependencies(zeppelin_wallet_interop_test zeppelin)
add_test(NAME zeppelin_wallet_interop_test COMMAND zeppelin_wallet_interop_test --gtest_brief=1)
set_tests_properties(zeppelin_wallet_interop_test PROPERTIES LABELS differential TIMEOUT 300)
