#include "CTendSQLite.h"

/* SQLiteNIO's SQLite, linked into the same binary under its prefixed names. */
int sqlite_nio_sqlite3_db_config(void *connection, int option, ...);

#define CTEND_SQLITE_DBCONFIG_ENABLE_QPSG 1007

int ctend_sqlite_enable_stable_plans(void *connection) {
    int enabled = 0;
    return sqlite_nio_sqlite3_db_config(connection, CTEND_SQLITE_DBCONFIG_ENABLE_QPSG, 1, &enabled);
}
