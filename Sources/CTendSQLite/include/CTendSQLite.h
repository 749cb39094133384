#ifndef CTEND_SQLITE_H
#define CTEND_SQLITE_H

/// Turns on SQLite's query-planner stability guarantee for one connection: plans no longer depend
/// on the values bound to parameters. Without it SQLite 3.54 re-prepares every kept statement that
/// reads two tables (a join, an EXISTS) whenever a parameter is bound again. Swift cannot call
/// the variadic sqlite3_db_config, hence this shim. Returns SQLite's result code.
int ctend_sqlite_enable_stable_plans(void *connection);

#endif
