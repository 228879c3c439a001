#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <filesystem>
#include <map>

#include "core/error.h"
#include "core/files.h"
#include "core/random.h"
#include "text/unicode.h"
#include "data/dataset.h"
#include "test_util.h"

namespace {

using ft::data::DatasetOptions;
using ft::data::load_dataset;

class Dataset : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = (std::filesystem::temp_directory_path() /
            ("ft_dataset_" + std::to_string(::getpid()) + "_" + info->name())).string();
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { ft::remove_tree(dir_); }

  std::string write(const std::string& name, const std::string& bytes) {
    const std::string path = ft::join_path(dir_, name);
    ft::write_file_atomic(path, bytes);
    return path;
  }

  // The message of the ft::Error that loading throws, or a failure when it loads.
  std::string load_error(const std::string& path, const DatasetOptions& opts = {}) {
    try {
      load_dataset(path, opts);
    } catch (const ft::Error& e) {
      return e.what();
    }
    ADD_FAILURE() << path << " loaded without an error";
    return "";
  }

  std::string dir_;
};

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

TEST_F(Dataset, TsvKeepsQuotesAndEmptyDocuments) {
  const std::string path = write("a.tsv",
                                 "id\tdocument\tlabel\n"
                                 "1\t\"\"\"Because\"\" it is\"\"\"\t1\n"
                                 "2\t\t0\n"
                                 "3\tplain \"quote\t1");  // no final newline
  const auto ds = load_dataset(path, {});
  ASSERT_EQ(ds.examples.size(), 3u);
  EXPECT_EQ(ds.examples[0].id, "1");
  EXPECT_EQ(ds.examples[0].text, "\"\"\"Because\"\" it is\"\"\"");
  EXPECT_EQ(ds.examples[0].label, 1);
  EXPECT_EQ(ds.examples[1].text, "");
  EXPECT_EQ(ds.examples[1].label, 0);
  EXPECT_EQ(ds.examples[2].text, "plain \"quote");
  EXPECT_EQ(ds.label_names, (std::vector<std::string>{"0", "1"}));
  EXPECT_EQ(ds.path, path);
  EXPECT_EQ(ds.skipped_rows, 0);
}

TEST_F(Dataset, TsvCrlfBomColumnOrderAndBlankLines) {
  const std::string path = write("a.txt", "\xEF\xBB\xBFlabel\tdocument\r\nneg\thello world\r\n\r\npos\t  spaced  \r\n");
  DatasetOptions opts;
  opts.label_names = {"neg", "pos"};
  const auto ds = load_dataset(path, opts);
  ASSERT_EQ(ds.examples.size(), 2u);
  EXPECT_EQ(ds.examples[0].text, "hello world");
  EXPECT_EQ(ds.examples[0].label, 0);
  EXPECT_EQ(ds.examples[1].text, "  spaced  ");
  EXPECT_EQ(ds.examples[1].label, 1);
  // No id column: ids are data row numbers.
  EXPECT_EQ(ds.examples[0].id, "0");
  EXPECT_EQ(ds.examples[1].id, "1");
}

TEST_F(Dataset, CustomColumnNames) {
  const std::string path = write("a.tsv", "sentence\tkey\ty\nhi\tk1\t1\n");
  DatasetOptions opts;
  opts.text_column = "sentence";
  opts.label_column = "y";
  opts.id_column = "key";
  const auto ds = load_dataset(path, opts);
  ASSERT_EQ(ds.examples.size(), 1u);
  EXPECT_EQ(ds.examples[0].id, "k1");
  EXPECT_EQ(ds.examples[0].text, "hi");
}

TEST_F(Dataset, TsvWrongColumnCountNamesFileAndLine) {
  const std::string path = write("a.tsv", "id\tdocument\tlabel\n1\tok\t0\n2\textra\ttab\t1\n3\tmissing\n");
  const std::string err = load_error(path);
  EXPECT_TRUE(contains(err, path + ":3: expected 3 columns, found 4")) << err;
}

TEST_F(Dataset, UnknownLabelIsAnError) {
  const std::string path = write("a.tsv", "id\tdocument\tlabel\n1\tok\t0\n2\tbad\t2\n");
  const std::string err = load_error(path);
  EXPECT_TRUE(contains(err, path + ":3: label '2' is not one of the label names (0, 1)")) << err;
}

TEST_F(Dataset, SkipBadRowsCountsThem) {
  const std::string path = write("a.tsv",
                                 "id\tdocument\tlabel\n"
                                 "1\tok\t0\n"
                                 "2\tbad label\t7\n"
                                 "3\ttoo\tmany\t1\n"
                                 "4\tbad \xC3 utf8\t1\n"
                                 "5\tfine\t1\n");
  DatasetOptions opts;
  opts.skip_bad_rows = true;
  const auto ds = load_dataset(path, opts);
  ASSERT_EQ(ds.examples.size(), 2u);
  EXPECT_EQ(ds.skipped_rows, 3);
  EXPECT_EQ(ds.examples[0].id, "1");
  EXPECT_EQ(ds.examples[1].id, "5");
}

TEST_F(Dataset, DefaultIdsCountSkippedRows) {
  // Ids stay tied to the row, whatever else was skipped.
  const std::string path = write("a.tsv", "document\tlabel\na\t0\nb\tx\nc\t1\n");
  DatasetOptions opts;
  opts.skip_bad_rows = true;
  const auto ds = load_dataset(path, opts);
  ASSERT_EQ(ds.examples.size(), 2u);
  EXPECT_EQ(ds.examples[0].id, "0");
  EXPECT_EQ(ds.examples[1].id, "2");
}

TEST_F(Dataset, InvalidUtf8InTextIsAnError) {
  const std::string path = write("a.tsv", "id\tdocument\tlabel\n1\tok \xE2\x82\t0\n");
  const std::string err = load_error(path);
  EXPECT_TRUE(contains(err, path + ":2: invalid UTF-8 in the text at byte 3")) << err;
}

TEST_F(Dataset, Utf8Validation) {
  using ft::text::find_invalid_utf8;
  const size_t ok = std::string::npos;
  EXPECT_EQ(find_invalid_utf8(""), ok);
  EXPECT_EQ(find_invalid_utf8("plain ascii"), ok);
  EXPECT_EQ(find_invalid_utf8("\xEC\x98\x81\xED\x99\x94 \xF0\x9F\x98\x80"), ok);  // 영화, an emoji
  EXPECT_EQ(find_invalid_utf8("\xC2\x80"), ok);                                     // U+0080, smallest 2-byte
  EXPECT_EQ(find_invalid_utf8("\xED\x9F\xBF"), ok);                                 // U+D7FF, just below surrogates
  EXPECT_EQ(find_invalid_utf8("\xF4\x8F\xBF\xBF"), ok);                             // U+10FFFF
  EXPECT_EQ(find_invalid_utf8(std::string("a\0b", 3)), ok);
  EXPECT_EQ(find_invalid_utf8("ab\x80"), 2u);              // stray continuation byte
  EXPECT_EQ(find_invalid_utf8("\xC0\xAF"), 0u);            // overlong '/'
  EXPECT_EQ(find_invalid_utf8("\xC1\xBF"), 0u);            // overlong
  EXPECT_EQ(find_invalid_utf8("x\xE0\x80\xAF"), 1u);       // overlong 3-byte
  EXPECT_EQ(find_invalid_utf8("\xF0\x8F\xBF\xBF"), 0u);    // overlong 4-byte
  EXPECT_EQ(find_invalid_utf8("\xED\xA0\x80"), 0u);        // U+D800, a surrogate
  EXPECT_EQ(find_invalid_utf8("\xED\xBF\xBF"), 0u);        // U+DFFF
  EXPECT_EQ(find_invalid_utf8("\xF4\x90\x80\x80"), 0u);    // U+110000
  EXPECT_EQ(find_invalid_utf8("\xF8\x88\x80\x80\x80"), 0u);  // 5-byte form
  EXPECT_EQ(find_invalid_utf8("\xFF"), 0u);
  EXPECT_EQ(find_invalid_utf8("ok\xEC\x98"), 2u);          // truncated at the end
  EXPECT_EQ(find_invalid_utf8("\xEC\x98z"), 0u);           // truncated by an ASCII byte
}

TEST_F(Dataset, CsvRfc4180Quoting) {
  const std::string path = write("a.csv",
                                 "id,document,label\r\n"
                                 "1,\"comma, inside\",1\r\n"
                                 "2,\"doubled \"\"quotes\"\"\",0\r\n"
                                 "3,\"line one\nline two\",1\r\n"
                                 "4,,0\r\n"
                                 "5,\"\",1\r\n"
                                 "6,unquoted \"stays\",0");
  const auto ds = load_dataset(path, {});
  ASSERT_EQ(ds.examples.size(), 6u);
  EXPECT_EQ(ds.examples[0].text, "comma, inside");
  EXPECT_EQ(ds.examples[1].text, "doubled \"quotes\"");
  EXPECT_EQ(ds.examples[2].text, "line one\nline two");
  EXPECT_EQ(ds.examples[2].label, 1);
  EXPECT_EQ(ds.examples[3].text, "");
  EXPECT_EQ(ds.examples[4].text, "");
  EXPECT_EQ(ds.examples[5].text, "unquoted \"stays\"");
  EXPECT_EQ(ds.examples[5].id, "6");
}

TEST_F(Dataset, CsvErrorsNameTheRecordsFirstLine) {
  // The multi-line record shifts line numbers: the bad row starts on line 4.
  const std::string bad_count = write("a.csv", "id,document,label\n1,\"two\nlines\",0\n2,x,1,extra\n");
  std::string err = load_error(bad_count);
  EXPECT_TRUE(contains(err, bad_count + ":4: expected 3 columns, found 4")) << err;

  const std::string junk = write("b.csv", "id,document,label\n1,\"closed\"junk,0\n2,fine,1\n");
  err = load_error(junk);
  EXPECT_TRUE(contains(err, junk + ":2: unexpected text after a closing quote")) << err;
  DatasetOptions skip;
  skip.skip_bad_rows = true;
  const auto ds = load_dataset(junk, skip);
  ASSERT_EQ(ds.examples.size(), 1u);
  EXPECT_EQ(ds.examples[0].text, "fine");
  EXPECT_EQ(ds.skipped_rows, 1);

  // An unclosed quote would swallow the rest of the file: fatal even when skipping.
  const std::string open = write("c.csv", "id,document,label\n1,ok,0\n2,\"never closed,1\n3,x,0\n");
  EXPECT_THROW(load_dataset(open, skip), ft::Error);
  err = load_error(open);
  EXPECT_TRUE(contains(err, open + ":3: quoted field is never closed")) << err;
}

TEST_F(Dataset, Jsonl) {
  const std::string path = write("a.jsonl",
                                 "{\"id\": 7, \"document\": \"\xEC\x9E\xAC\xEB\xB0\x8C\", \"label\": 1}\n"
                                 "\n"
                                 "{\"document\": \"tab\\there\", \"label\": \"0\", \"extra\": [1, 2]}\r\n"
                                 "{\"id\": \"x\", \"document\": \"\", \"label\": 0}");
  const auto ds = load_dataset(path, {});
  ASSERT_EQ(ds.examples.size(), 3u);
  EXPECT_EQ(ds.examples[0].id, "7");
  EXPECT_EQ(ds.examples[0].text, "\xEC\x9E\xAC\xEB\xB0\x8C");
  EXPECT_EQ(ds.examples[0].label, 1);
  EXPECT_EQ(ds.examples[1].id, "1");  // row number: blank lines are not rows
  EXPECT_EQ(ds.examples[1].text, "tab\there");
  EXPECT_EQ(ds.examples[1].label, 0);
  EXPECT_EQ(ds.examples[2].id, "x");
}

TEST_F(Dataset, JsonlBadRows) {
  const std::map<std::string, std::string> cases = {
      {"{\"document\": \"a\", \"label\": 1", "invalid JSON"},
      {"[\"a\", 1]", "expected a JSON object"},
      {"{\"label\": 1}", "missing field 'document'"},
      {"{\"document\": \"a\"}", "missing field 'label'"},
      {"{\"document\": 5, \"label\": 1}", "field 'document' is not a string"},
      {"{\"document\": \"a\", \"label\": 1.5}", "field 'label' is not a string or an integer"},
      {"{\"document\": \"a\", \"label\": true}", "field 'label' is not a string or an integer"},
      {"{\"document\": \"a\", \"label\": 3}", "label '3' is not one of the label names"},
      {"{\"document\": \"a\", \"label\": 1, \"id\": null}", "field 'id' is not a string or an integer"},
      {"{\"document\": \"bad \xC3\", \"label\": 1}", "invalid JSON"},  // the JSON parser rejects bad UTF-8 first
  };
  for (const auto& [line, what] : cases) {
    const std::string path = write("a.jsonl", "{\"document\": \"ok\", \"label\": 0}\n" + line + "\n");
    const std::string err = load_error(path);
    EXPECT_TRUE(contains(err, path + ":2: " + what)) << line << " -> " << err;
    DatasetOptions skip;
    skip.skip_bad_rows = true;
    const auto ds = load_dataset(path, skip);
    EXPECT_EQ(ds.examples.size(), 1u);
    EXPECT_EQ(ds.skipped_rows, 1);
  }
}

TEST_F(Dataset, FileLevelErrors) {
  std::string err = load_error(ft::join_path(dir_, "missing.tsv"));
  EXPECT_TRUE(contains(err, "missing.tsv: cannot open")) << err;

  err = load_error(write("empty.tsv", ""));
  EXPECT_TRUE(contains(err, "empty.tsv: the file is empty")) << err;
  err = load_error(write("blank.jsonl", "\n\r\n  \n"));
  EXPECT_TRUE(contains(err, "blank.jsonl: the file is empty")) << err;

  err = load_error(write("header_only.tsv", "id\tdocument\tlabel\n"));
  EXPECT_TRUE(contains(err, "header_only.tsv: no usable rows")) << err;

  err = load_error(write("no_label.tsv", "id\tdocument\ty\n1\tx\t0\n"));
  EXPECT_TRUE(contains(err, "no_label.tsv:1: the header has no column 'label' (columns: id, document, y)")) << err;
  err = load_error(write("no_text.csv", "id,text,label\n1,x,0\n"));
  EXPECT_TRUE(contains(err, "no_text.csv:1: the header has no column 'document'")) << err;
  err = load_error(write("twice.tsv", "document\tlabel\tdocument\nx\t0\ty\n"));
  EXPECT_TRUE(contains(err, "twice.tsv:1: the header names column 'document' twice")) << err;

  DatasetOptions skip;
  skip.skip_bad_rows = true;
  err = load_error(write("all_bad.tsv", "document\tlabel\nx\t5\n"), skip);
  EXPECT_TRUE(contains(err, "all_bad.tsv: no usable rows (1 bad rows skipped)")) << err;
}

TEST_F(Dataset, FormatSelection) {
  const std::string tsv_named_csv = write("data.csv", "document\tlabel\nx\t1\n");
  DatasetOptions opts;
  opts.format = "tsv";
  EXPECT_EQ(load_dataset(tsv_named_csv, opts).examples.size(), 1u);
  // Read as CSV by its extension, the single column matches neither name.
  EXPECT_TRUE(contains(load_error(tsv_named_csv), "has no column 'document'"));
  EXPECT_TRUE(contains(load_error(write("data.parquet", "x")), "cannot tell the format"));
  opts.format = "xml";
  EXPECT_TRUE(contains(load_error(tsv_named_csv, opts), "unknown dataset format 'xml'"));
  // Extensions are matched without regard to case.
  EXPECT_EQ(load_dataset(write("UPPER.JSONL", "{\"document\": \"x\", \"label\": 0}\n"), {}).examples.size(), 1u);
}

TEST_F(Dataset, BadLabelOptions) {
  const std::string path = write("a.tsv", "document\tlabel\nx\t1\n");
  DatasetOptions opts;
  opts.label_names = {};
  EXPECT_TRUE(contains(load_error(path, opts), "no label names"));
  opts.label_names = {"1", "1"};
  EXPECT_TRUE(contains(load_error(path, opts), "label name '1' is given twice"));
  opts.label_names = {"0", "1"};
  opts.text_column = "label";
  EXPECT_TRUE(contains(load_error(path, opts), "text and label column are both 'label'"));
}

TEST_F(Dataset, SubsetIsSeededAndInFileOrder) {
  std::string body = "id\tdocument\tlabel\n";
  for (int i = 0; i < 100; ++i) body += std::to_string(i) + "\ttext " + std::to_string(i) + "\t" + std::to_string(i % 2) + "\n";
  const std::string path = write("a.tsv", body);
  DatasetOptions opts;
  opts.max_samples = 10;
  const auto a = load_dataset(path, opts);
  const auto b = load_dataset(path, opts);
  opts.seed = 7;
  const auto c = load_dataset(path, opts);
  ASSERT_EQ(a.examples.size(), 10u);
  ASSERT_EQ(c.examples.size(), 10u);
  std::vector<std::string> ids_a, ids_b, ids_c;
  for (const auto& e : a.examples) ids_a.push_back(e.id);
  for (const auto& e : b.examples) ids_b.push_back(e.id);
  for (const auto& e : c.examples) ids_c.push_back(e.id);
  EXPECT_EQ(ids_a, ids_b);
  EXPECT_NE(ids_a, ids_c);
  for (size_t i = 1; i < a.examples.size(); ++i) EXPECT_LT(std::stoi(ids_a[i - 1]), std::stoi(ids_a[i]));
  for (const auto& e : a.examples) EXPECT_EQ(e.text, "text " + e.id);

  opts.max_samples = 100;  // not fewer than the rows: everything, untouched
  EXPECT_EQ(load_dataset(path, opts).examples.size(), 100u);
  opts.max_samples = 0;
  EXPECT_EQ(load_dataset(path, opts).examples.size(), 0u);
}

TEST_F(Dataset, SubsetIsPinnedAcrossStandardLibraries) {
  // mt19937_64's output is fixed by the standard and the bounded draw is ours, so this
  // selection must come out the same under any compiler and standard library. The expected
  // values come from an independent Python model of mt19937_64 + the same draw and shuffle.
  EXPECT_EQ(ft::sample_without_replacement(10, 4, 42), (std::vector<size_t>{3, 6, 7, 8}));
}

TEST_F(Dataset, ReadLines) {
  const std::string path = write("a.txt", "\xEF\xBB\xBFone\r\n\ntwo\nthree");
  EXPECT_EQ(ft::data::read_lines(path), (std::vector<std::string>{"one", "", "two", "three"}));
  EXPECT_THROW(ft::data::read_lines(ft::join_path(dir_, "missing.txt")), ft::Error);
}

TEST_F(Dataset, TextColumnFromPlainLinesOrTsv) {
  // Plain text: every line is a text, blank ones too, so output rows line up with input lines.
  const auto plain = ft::data::read_text_column(write("p.txt", "one\r\n\n\"quoted\" two\n"));
  EXPECT_EQ(plain.texts, (std::vector<std::string>{"one", "", "\"quoted\" two"}));
  EXPECT_EQ(plain.lines, (std::vector<size_t>{1, 2, 3}));
  // TSV: the named column; quotes stay text, blank lines are skipped.
  const std::string tsv = write("t.tsv", "id\tdocument\tlabel\n7\t\"a\n\n8\tc\t0\n");
  const auto docs = ft::data::read_text_column(tsv);
  EXPECT_EQ(docs.texts, (std::vector<std::string>{"\"a", "c"}));
  EXPECT_EQ(docs.lines, (std::vector<size_t>{2, 4}));
  auto error_of = [](const std::string& path, const std::string& column) {
    try {
      ft::data::read_text_column(path, column);
    } catch (const ft::Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(error_of(tsv, "text"), tsv + ":1: no column 'text' in the header (columns: id, document, label)");
  EXPECT_EQ(error_of(tsv, "label"), tsv + ":2: has 2 fields, no 'label' column");
  EXPECT_NE(error_of(write("e.txt", ""), "document").find("e.txt: empty input"), std::string::npos);
}

// The real NSMC splits.
using ft::testing::nsmc_path;

TEST_F(Dataset, NsmcTrainLoadsFast) {
  const auto start = std::chrono::steady_clock::now();
  const auto ds = load_dataset(nsmc_path("ratings_train.txt"), {});
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(ds.examples.size(), 150000u);
  EXPECT_EQ(ds.skipped_rows, 0);
  EXPECT_EQ(std::count_if(ds.examples.begin(), ds.examples.end(), [](const auto& e) { return e.text.empty(); }), 5);
  EXPECT_EQ(ds.examples.front().id, "9976970");
  EXPECT_LT(seconds, 1.0);
  std::cout << "[ NSMC     ] ratings_train.txt loaded in " << seconds * 1000 << " ms\n";
}

TEST_F(Dataset, NsmcTestSplit) {
  const auto ds = load_dataset(nsmc_path("ratings_test.txt"), {});
  ASSERT_EQ(ds.examples.size(), 50000u);
  EXPECT_EQ(std::count_if(ds.examples.begin(), ds.examples.end(), [](const auto& e) { return e.text.empty(); }), 3);
  const auto positives = std::count_if(ds.examples.begin(), ds.examples.end(), [](const auto& e) { return e.label == 1; });
  EXPECT_EQ(positives, 25173);
  EXPECT_EQ(static_cast<long>(ds.examples.size()) - positives, 24827);
  // Line 16: pandas-quoted text, kept exactly as written (quoting=3).
  const auto& quoted = ds.examples[14];
  EXPECT_EQ(quoted.id, "9037756");
  EXPECT_EQ(quoted.label, 0);
  EXPECT_EQ(quoted.text.substr(0, 4), "\"\"\"\xEC");
  EXPECT_EQ(quoted.text.substr(quoted.text.size() - 4), "?\"\"\"");
  EXPECT_TRUE(contains(quoted.text, " \"\"\"\"\xEB\x82\xB4\xEA\xB0\x80 "));  // ' """"내가 '
}

}  // namespace

namespace {

ft::data::Dataset labelled(const std::vector<int64_t>& labels) {
  ft::data::Dataset ds;
  ds.path = "labels.tsv";
  ds.label_names = {"0", "1"};
  for (size_t i = 0; i < labels.size(); ++i) ds.examples.push_back({std::to_string(i), "text " + std::to_string(i), labels[i]});
  return ds;
}

std::vector<std::string> ids(const ft::data::Dataset& ds) {
  std::vector<std::string> out;
  for (const auto& e : ds.examples) out.push_back(e.id);
  return out;
}

}  // namespace

TEST(StratifiedSplit, KeepsClassBalanceIsDisjointAndSeeded) {
  // 300 of label 0, 100 of label 1, interleaved: a 0.1 split holds out exactly 30 and 10.
  std::vector<int64_t> labels;
  for (int i = 0; i < 400; ++i) labels.push_back(i % 4 == 3 ? 1 : 0);
  const auto ds = labelled(labels);
  const auto a = ft::data::split_stratified(ds, 0.1, 42), b = ft::data::split_stratified(ds, 0.1, 42),
             c = ft::data::split_stratified(ds, 0.1, 43);
  int64_t held[2] = {0, 0};
  for (const auto& e : a.held_out.examples) ++held[e.label];
  EXPECT_EQ(held[0], 30);
  EXPECT_EQ(held[1], 10);
  EXPECT_EQ(a.train.examples.size(), 360u);
  // Disjoint, together everything, each part in file order.
  std::vector<std::string> all = ids(a.train), v = ids(a.held_out);
  all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  EXPECT_EQ(std::unique(all.begin(), all.end()), all.end());
  EXPECT_EQ(all.size(), 400u);
  auto in_order = [](const ft::data::Dataset& d) {
    for (size_t i = 1; i < d.examples.size(); ++i)
      if (std::stoi(d.examples[i - 1].id) >= std::stoi(d.examples[i].id)) return false;
    return true;
  };
  EXPECT_TRUE(in_order(a.train));
  EXPECT_TRUE(in_order(a.held_out));
  EXPECT_EQ(ids(a.held_out), ids(b.held_out));
  EXPECT_NE(ids(a.held_out), ids(c.held_out));
  // The examples keep their text and label.
  for (const auto& e : a.held_out.examples) EXPECT_EQ(e.text, "text " + e.id);
}

TEST(StratifiedSplit, RejectsFractionsThatLeaveAPartEmpty) {
  const auto ds = labelled({0, 1, 0, 1});
  EXPECT_THROW(ft::data::split_stratified(ds, 0.0, 1), ft::Error);
  EXPECT_THROW(ft::data::split_stratified(ds, 1.0, 1), ft::Error);
  try {
    ft::data::split_stratified(ds, 0.1, 1);  // rounds to 0 per label
    FAIL() << "expected an error";
  } catch (const ft::Error& e) {
    EXPECT_NE(std::string(e.what()).find("labels.tsv: a validation split of 0.1"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("no validation examples"), std::string::npos) << e.what();
  }
}
