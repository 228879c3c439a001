#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/files.h"

namespace {

std::string temp_dir() {
  auto dir = std::filesystem::temp_directory_path() / ("ft_files_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return dir.string();
}

TEST(Files, AtomicWriteReplacesAndLeavesNoTemp) {
  const std::string dir = temp_dir();
  const std::string path = ft::join_path(dir, "a.txt");
  ft::write_file_atomic(path, std::string("first"));
  ft::write_file_atomic(path, std::string("second"));
  EXPECT_EQ(ft::read_file(path), "second");
  EXPECT_EQ(ft::list_dir(dir), std::vector<std::string>{path});
  ft::remove_tree(dir);
}

TEST(Files, FailedWriteKeepsOldContent) {
  const std::string dir = temp_dir();
  const std::string path = ft::join_path(dir, "b.txt");
  ft::write_file_atomic(path, std::string("keep"));
  EXPECT_THROW(ft::write_file_atomic(path, [](std::ostream&) { throw ft::Error("boom"); }), ft::Error);
  EXPECT_EQ(ft::read_file(path), "keep");
  ft::remove_tree(dir);
}

TEST(Files, JsonErrorNamesFileAndLine) {
  const std::string dir = temp_dir();
  const std::string path = ft::join_path(dir, "bad.json");
  ft::write_file_atomic(path, std::string("{\n  \"a\": 1,\n  \"b\": \n}\n"));
  try {
    ft::read_json(path);
    FAIL() << "expected an error";
  } catch (const ft::Error& e) {
    EXPECT_NE(std::string(e.what()).find(path + ":4:"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ft::read_json(ft::join_path(dir, "missing.json")), ft::Error);
  ft::remove_tree(dir);
}

}  // namespace
