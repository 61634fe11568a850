# test/t/PgcdcBootstrapTest.pm: helpers of the bootstrap TAP tests (030-034).

=pod

=head1 NAME

PgcdcBootstrapTest - concurrent writers and state rebuilding for the
pgcdc_drasi bootstrap tests

=head1 SYNOPSIS

  use lib 'test/t';
  use PgcdcDrasiTest;
  use PgcdcBootstrapTest;

  bs_create_tables($node, acct_rows => 200000, edge_rows => 50000);
  my $w = bs_start_writers($node, 4);
  ...
  bs_stop_writers($node, $w);
  my $events = bs_fetch_events($node, $source);
  my ($state, $anomalies) = bs_apply_events({}, $events);
  bs_compare_states($state, bs_table_state($node), 'rebuilt vs tables');

The writers run inserts, updates (also of the key), deletes and upserts on
two tables, acct (integer key) and edge (composite key), with keys drawn
from a range shared with the pre-filled rows, so that updates and deletes
hit existing rows.  Every update of a row increments a counter in it
(acct.v, edge.w->'n'), so an update event seen twice shows up as a counter
that does not grow.  The state of the graph is rebuilt from events by
applying them in seq order (i/u set the node, d removes it, t removes
every node of the truncated table) and compared with the tables (mapped to
nodes the way the extension maps them) and with pgcdc_drasi.bootstrap().

=cut

package PgcdcBootstrapTest;

use strict;
use warnings;

use Exporter 'import';
use IPC::Run;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use PgcdcDrasiTest;

our @EXPORT = qw(
  bs_create_source
  bs_create_tables
  bs_start_writers
  bs_stop_writers
  bs_wait_until
  bs_fetch_events
  bs_apply_events
  bs_check_anomalies
  bs_table_state
  bs_bootstrap_state
  bs_parse_elements
  bs_compare_states
  bs_check_seq_contiguous
  bs_sync_node
  bs_start_sync_waiter
  bs_release_sync_waiter
);

=pod

=head2 bs_create_source($node, $source, $publication)

create_source with its defaults, so bootstrap => true: the worker takes
the initial snapshot.  (PgcdcDrasiTest::create_source passes bootstrap =>
false.)

=cut

sub bs_create_source
{
	my ($node, $source, $publication) = @_;
	$node->safe_psql('postgres',
		'SELECT pgcdc_drasi.create_source(' . q_lit($source) . ', publication => ' . q_lit($publication) . ')');
	return;
}

=pod

=head2 bs_create_tables($node, %opts)

Create acct(id int PK, v, note, amount numeric(12,2), flag) with acct_rows
rows, edge(a, b, w jsonb, PK (a, b)) with edge_rows rows, the control
table bs_ctl and the writer procedure bs_writer.  publication => name
creates a publication of both tables.

=cut

sub bs_create_tables
{
	my ($node, %opts) = @_;
	my $acct_rows = $opts{acct_rows} // 10000;
	my $edge_rows = $opts{edge_rows} // 5000;
	$node->safe_psql('postgres', qq{
CREATE TABLE acct (id int PRIMARY KEY, v int NOT NULL, note text, amount numeric(12,2), flag boolean);
CREATE TABLE edge (a int, b int, w jsonb, PRIMARY KEY (a, b));
CREATE TABLE bs_ctl (stop boolean NOT NULL);
INSERT INTO bs_ctl VALUES (false);
INSERT INTO acct SELECT g, g % 97, md5(g::text), g / 100.0, g % 2 = 0
  FROM generate_series(1, $acct_rows) g;
INSERT INTO edge SELECT g % 500, g / 500, jsonb_build_object('w', g)
  FROM generate_series(1, $edge_rows) g;
ANALYZE acct, edge;
CREATE PROCEDURE bs_writer(seed float8, krange int, erange int, pause float8)
LANGUAGE plpgsql AS \$\$
DECLARE
	k int;
	k2 int;
	r float8;
	ea int;
	eb int;
BEGIN
	PERFORM setseed(seed);
	LOOP
		EXIT WHEN (SELECT stop FROM bs_ctl);
		BEGIN
			FOR j IN 1 .. 1 + floor(random() * 3)::int LOOP
				k := 1 + floor(random() * krange)::int;
				r := random();
				IF r < 0.25 THEN
					INSERT INTO acct VALUES (k, 0, md5(random()::text),
											 round((random() * 1000)::numeric, 2), random() < 0.5)
					ON CONFLICT (id) DO UPDATE SET v = acct.v + 1, note = excluded.note;
				ELSIF r < 0.50 THEN
					UPDATE acct SET v = v + 1, amount = round((random() * 1000)::numeric, 2)
					WHERE id = k;
				ELSIF r < 0.62 THEN
					DELETE FROM acct WHERE id = k;
				ELSIF r < 0.67 THEN
					k2 := 1 + floor(random() * krange)::int;
					UPDATE acct SET id = k2 WHERE id = k;
				ELSE
					ea := floor(random() * 500)::int;
					eb := floor(random() * erange)::int;
					r := random();
					IF r < 0.4 THEN
						INSERT INTO edge VALUES (ea, eb, jsonb_build_object('w', floor(random() * 1000)))
						ON CONFLICT (a, b) DO UPDATE
						SET w = excluded.w || jsonb_build_object('n', coalesce((edge.w->>'n')::int, 0) + 1);
					ELSIF r < 0.7 THEN
						UPDATE edge SET w = w || jsonb_build_object('u', floor(random() * 1000),
																	'n', coalesce((w->>'n')::int, 0) + 1)
						WHERE a = ea AND b = eb;
					ELSE
						DELETE FROM edge WHERE a = ea AND b = eb;
					END IF;
				END IF;
			END LOOP;
		EXCEPTION WHEN unique_violation OR deadlock_detected THEN
			NULL;
		END;
		COMMIT;
		IF pause > 0 THEN
			PERFORM pg_sleep(pause);
		END IF;
	END LOOP;
END
\$\$;
});
	$node->safe_psql('postgres',
		"CREATE PUBLICATION $opts{publication} FOR TABLE acct, edge")
	  if defined $opts{publication};
	return;
}

=pod

=head2 bs_start_writers($node, $n, %opts)

Start $n sessions running bs_writer until bs_ctl.stop is set.  Keys of
acct are drawn from 1..krange (default: 1.1 x the rows created), those of
edge from 500 x erange; each session sleeps pause seconds (default 0.002)
after each transaction.  Returns a handle for bs_stop_writers.

=cut

sub bs_start_writers
{
	my ($node, $n, %opts) = @_;
	my $krange = $opts{krange} // 11000;
	my $erange = $opts{erange} // 12;
	my $pause = $opts{pause} // 0.002;
	$node->safe_psql('postgres', 'UPDATE bs_ctl SET stop = false');
	my @w;
	for my $i (1 .. $n)
	{
		my ($out, $err) = ('', '');
		my $seed = sprintf('%.3f', $i / ($n + 1));
		my $h = IPC::Run::start(
			[
				'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres'),
				'-c', "CALL bs_writer($seed, $krange, $erange, $pause)"
			],
			'>', \$out, '2>', \$err);
		push @w, { h => $h, out => \$out, err => \$err };
	}
	return \@w;
}

=pod

=head2 bs_stop_writers($node, $writers, %opts)

Set bs_ctl.stop and wait for the writers to end.  Unless expect_killed is
set (the server was stopped under them), one assertion: all ended without
an error.

=cut

sub bs_stop_writers
{
	my ($node, $w, %opts) = @_;
	$node->safe_psql('postgres', 'UPDATE bs_ctl SET stop = true')
	  unless $opts{expect_killed};
	my @errors;
	for my $x (@$w)
	{
		my $ok = eval { $x->{h}->finish; 1 };
		push @errors, ($ok ? '' : "finish: $@") . ${ $x->{err} }
		  if !$ok || ${ $x->{err} } ne '' || $x->{h}->result != 0;
	}
	if ($opts{expect_killed})
	{
		note('writers ended: ' . join(' / ', @errors));
		return;
	}
	is(scalar(@errors), 0, 'writers ended without an error')
	  or diag(join("\n", @errors));
	return;
}

=pod

=head2 bs_wait_until($node, $sql, %opts)

Poll $sql (returning a boolean) every 50 ms until true; timeout (seconds,
default the test default).  Returns true on success, false on timeout
(no assertion).

=cut

sub bs_wait_until
{
	my ($node, $sql, %opts) = @_;
	my $deadline = time() + ($opts{timeout} // $PostgreSQL::Test::Utils::timeout_default);
	while (time() < $deadline)
	{
		my ($ret, $out) = $node->psql('postgres', $sql);
		return 1 if $ret == 0 && defined $out && $out eq 't';
		usleep(50_000);
	}
	return 0;
}

=pod

=head2 bs_fetch_events($node, $source, %opts)

The events of a source in seq order, as a list of
{ seq, op, snapshot, key, json }: key is the element id, or for 't' the
idPrefix of the truncated table; json is the "after" element as jsonb
text (empty for d and t).  sql => 'SELECT ... FROM ... AS e' replaces the
source of the events (for instance pgcdc_drasi.read()).

=cut

sub bs_fetch_events
{
	my ($node, $source, %opts) = @_;
	my $from = $opts{from}
	  // ('pgcdc_drasi.events AS e WHERE e.source_id = ' . q_lit($source));
	my $out = $node->safe_psql('postgres', qq{
SELECT e.seq, e.op, coalesce(e.payload->'metadata'->>'snapshot', 'false'),
       coalesce(e.element_id, e.payload->'payload'->'before'->>'idPrefix'),
       coalesce((e.payload->'payload'->'after')::text, '')
  FROM $from
 ORDER BY e.seq});
	my @events;
	for my $line (split /\n/, $out)
	{
		my ($seq, $op, $snap, $key, $json) = split /\|/, $line, 5;
		push @events,
		  {
			seq => $seq,
			op => $op,
			snapshot => ($snap eq 'true' ? 1 : 0),
			key => $key,
			json => $json
		  };
	}
	return \@events;
}

=pod

=head2 bs_apply_events($state, $events)

Apply events in order to $state (id => element jsonb text).  Returns
$state and the anomalies, a hash of counts plus examples: an insert of a
node that exists (the change was seen twice, or a delete was lost), an
update or delete of a node that does not exist (a change was seen twice or
an insert was lost), an update whose counter (acct.v, edge.w->'n') is not
greater than the node's (an update seen twice, or seen after a snapshot
that already showed it).  With keyed tables and exactly-once delivery none
can happen.

=cut

sub bs_apply_events
{
	my ($state, $events) = @_;
	my %anomalies = (
		insert_existing => 0,
		update_missing => 0,
		delete_missing => 0,
		counter_not_growing => 0);
	my @examples;
	for my $e (@$events)
	{
		my ($op, $key) = ($e->{op}, $e->{key});
		my $what;
		if ($op eq 't')
		{
			delete $state->{$_} for grep { index($_, $key) == 0 } keys %$state;
		}
		elsif ($op eq 'i')
		{
			$what = 'insert_existing' if exists $state->{$key};
			$state->{$key} = $e->{json};
		}
		elsif ($op eq 'u')
		{
			if (!exists $state->{$key})
			{
				$what = 'update_missing';
			}
			elsif (counter($e->{json}) <= counter($state->{$key}))
			{
				$what = 'counter_not_growing';
			}
			$state->{$key} = $e->{json};
		}
		elsif ($op eq 'd')
		{
			$what = 'delete_missing' unless exists $state->{$key};
			delete $state->{$key};
		}
		else
		{
			$what = "unknown op $op";
			$anomalies{$what} = 0;
		}
		if (defined $what)
		{
			$anomalies{$what}++;
			push @examples, "seq $e->{seq}: $what $key" if @examples < 10;
		}
	}
	$anomalies{examples} = \@examples;
	return ($state, \%anomalies);
}

# The update counter of an element: acct's v, edge's w->'n' (0 if none).
sub counter
{
	my ($json) = @_;
	return $1 if $json =~ /"labels": \["acct"\], "properties": \{"v": (-?\d+)/;
	return $1 if $json =~ /"w": \{"n": (\d+)/;
	return 0;
}

# Assertions: no anomaly of each kind.
sub bs_check_anomalies
{
	my ($anomalies, $desc) = @_;
	for my $kind (qw(insert_existing update_missing delete_missing counter_not_growing))
	{
		is($anomalies->{$kind}, 0, "$desc: no $kind event")
		  or diag(join("\n", @{ $anomalies->{examples} }));
	}
	return;
}

=pod

=head2 bs_table_state($node)

The rows of acct and edge as the nodes the extension makes of them:
id => {"id","labels","properties"} as jsonb text.

=cut

sub bs_table_state
{
	my ($node) = @_;
	my $out = $node->safe_psql('postgres', q{
SELECT 'acct:' || id,
       jsonb_build_object('id', 'acct:' || id, 'labels', jsonb_build_array('acct'),
                          'properties', to_jsonb(t))::text
  FROM acct t
UNION ALL
SELECT 'edge:' || a || '_' || b,
       jsonb_build_object('id', 'edge:' || a || '_' || b, 'labels', jsonb_build_array('edge'),
                          'properties', to_jsonb(t))::text
  FROM edge t});
	return bs_parse_elements($out);
}

# id|json lines to a hash.
sub bs_parse_elements
{
	my ($out) = @_;
	my %h;
	for my $line (split /\n/, $out)
	{
		next unless $line =~ /\|/;
		my ($id, $json) = split /\|/, $line, 2;
		$h{$id} = $json;
	}
	return \%h;
}

# pgcdc_drasi.bootstrap() as id => element.
sub bs_bootstrap_state
{
	my ($node, $source) = @_;
	return bs_parse_elements($node->safe_psql('postgres',
		'SELECT e->>\'id\', e::text FROM pgcdc_drasi.bootstrap(' . q_lit($source) . ') AS e'));
}

=pod

=head2 bs_compare_states($got, $want, $desc)

Two assertions: as many nodes, and every node identical (same ids, same
jsonb).  The first differences are printed.

=cut

sub bs_compare_states
{
	my ($got, $want, $desc) = @_;
	is(scalar(keys %$got), scalar(keys %$want), "$desc: as many nodes");
	my @diff;
	for my $id (keys %$want)
	{
		if (!exists $got->{$id})
		{
			push @diff, "missing $id: want $want->{$id}";
		}
		elsif ($got->{$id} ne $want->{$id})
		{
			push @diff, "differs $id: got $got->{$id}, want $want->{$id}";
		}
	}
	for my $id (keys %$got)
	{
		push @diff, "unexpected $id: $got->{$id}" unless exists $want->{$id};
	}
	my $ok = is(scalar(@diff), 0, "$desc: every node identical");
	diag(join("\n", (sort @diff)[ 0 .. ($#diff < 19 ? $#diff : 19) ])) unless $ok;
	return $ok;
}

# One assertion: the source's seq numbers are 1..N without a gap.
sub bs_check_seq_contiguous
{
	my ($node, $source, $desc) = @_;
	is( $node->safe_psql('postgres',
			'SELECT count(*) = max(seq) AND min(seq) = 1 AND count(DISTINCT seq) = count(*) '
			  . 'FROM pgcdc_drasi.events WHERE source_id = ' . q_lit($source)),
		't', "$desc: seq numbers are 1..N, each once");
	return;
}

=pod

=head2 bs_sync_node($name, %opts)

cdc_node() (same options, but no extra_conf) for the tests that use
bs_start_sync_waiter(): synchronous_standby_names names a standby that never
connects, synchronous_commit is local unless a session sets it on, and
deadlock_timeout is 50 ms.

=cut

sub bs_sync_node
{
	my ($name, %opts) = @_;
	return cdc_node(
		$name, %opts, extra_conf => q{
deadlock_timeout = '50ms'
synchronous_standby_names = 'bs_standby_that_never_connects'
synchronous_commit = local
});
}

=pod

=head2 bs_start_sync_waiter($node, $source, $id, $note)

Put a published transaction in the state where snapshots do not show it
yet: a session (application_name bs_sync_waiter) sets note = $note and
v = v + 1 on acct row $id with synchronous_commit = on, so it commits
locally and then waits for a synchronous standby that never answers.  Two
assertions: the session waits (wait_event SyncRep), and the worker of
$source has published the update.  Returns the waiter for
bs_release_sync_waiter().  The node comes from bs_sync_node().

=cut

sub bs_start_sync_waiter
{
	my ($node, $source, $id, $note) = @_;
	my $src = q_lit($source);
	my $w = { out => '', err => '' };
	$w->{h} = IPC::Run::start(
		[
			'psql', '-XAtq', '-d', $node->connstr('postgres'),
			'-c', 'SET synchronous_commit = on',
			'-c', "SET application_name = 'bs_sync_waiter'",
			'-c', "UPDATE acct SET v = v + 1, note = " . q_lit($note) . " WHERE id = $id"
		],
		'>', \$w->{out}, '2>', \$w->{err});
	ok( bs_wait_until($node,
			"SELECT count(*) = 1 FROM pg_stat_activity WHERE application_name = 'bs_sync_waiter' AND wait_event = 'SyncRep'"),
		'the updating session waits for the synchronous standby');
	ok( bs_wait_until($node, qq{
SELECT count(*) = 1 FROM pgcdc_drasi.events
 WHERE source_id = $src AND element_id = 'acct:$id'
   AND payload->'payload'->'after'->'properties'->>'note' = } . q_lit($note)),
		'the worker has published the waiting transaction');
	return $w;
}

=pod

=head2 bs_release_sync_waiter($node, $w)

Cancel the wait of bs_start_sync_waiter()'s session; asserts that it was
cancelled and that its transaction had committed locally (the update is
now visible).

=cut

sub bs_release_sync_waiter
{
	my ($node, $w) = @_;
	is( $node->safe_psql('postgres', "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'bs_sync_waiter'"),
		't', 'stop waiting for the standby');
	$w->{h}->finish;
	like($w->{err}, qr/already committed locally/, 'the waiting transaction committed');
	return;
}

1;
