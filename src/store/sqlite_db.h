// Thin RAII wrapper over the SQLite C API: prepared statements with typed binds, errors thrown as
// StoreError naming the database file and SQLite's message.
#pragma once
#include <sqlite3.h>

#include <cstdint>
#include <exception>
#include <span>
#include <string>
#include <string_view>

namespace irbis::store {

class Statement {
 public:
  Statement(sqlite3* db, std::string_view sql);
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  Statement& bind(int i, int64_t v);
  Statement& bind(int i, double v);
  Statement& bind_text(int i, std::string_view v);
  Statement& bind_blob(int i, std::span<const uint8_t> v);
  Statement& bind_null(int i);
  // Advances to the next row; false when done.
  bool step();
  void reset();

  int64_t column_int(int i) const;
  double column_double(int i) const;
  std::string column_text(int i) const;
  std::string column_blob(int i) const;
  bool column_is_null(int i) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

class Database {
 public:
  explicit Database(const std::string& file);
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  ~Database();
  void exec(std::string_view sql);
  // Runs f() between BEGIN IMMEDIATE and COMMIT; on an exception rolls back and rethrows it. SQLite
  // may have rolled back already (a full disk, an I/O error): then ROLLBACK fails too, and must
  // not replace the error that says what went wrong.
  template <class F>
  void transaction(F&& f) {
    exec("BEGIN IMMEDIATE");
    try {
      f();
      exec("COMMIT");
    } catch (...) {
      try {
        exec("ROLLBACK");
      } catch (const std::exception&) {
      }
      throw;
    }
  }
  sqlite3* handle() const { return db_; }
  const std::string& file() const { return file_; }

 private:
  std::string file_;
  sqlite3* db_ = nullptr;
};

}  // namespace irbis::store
