# 051_large_rows_snapshot.pl: the initial snapshot of 10 rows of 50 MB runs in memory bounded
# by bytes, not by the number of rows (see PgcdcLargeRows.pm).

use strict;
use warnings;

use PgcdcLargeRows;

large_rows_test('snapshot');
