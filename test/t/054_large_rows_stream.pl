# 054_large_rows_stream.pl: one transaction of 10 rows of 50 MB through the stream runs in memory bounded
# by bytes, not by the number of rows (see PgcdcLargeRows.pm).

use strict;
use warnings;

use PgcdcLargeRows;

large_rows_test('stream');
