package storage_test

import (
	"testing"

	"entgo.io/ent/dialect"
	"github.com/prometheus/client_golang/prometheus"
)

// The writer rule lives with the database: SQLite has one write
// transaction at a time, so one writer; PostgreSQL two.
func TestDB_WritersFollowTheDatabase(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		db := openDB(t, url)
		want := 2
		if db.Dialect() == dialect.SQLite {
			want = 1
		}
		if got := db.Writers(); got != want {
			t.Fatalf("%s: %d writers, want %d", db.Dialect(), got, want)
		}
	})
}

// The pool's statistics reach Prometheus without the caller holding the
// pool: go_sql_max_open_connections is the limit Open set.
func TestDB_StatsCollectorExportsThePool(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		db := openDB(t, url)
		reg := prometheus.NewPedanticRegistry()
		reg.MustRegister(db.StatsCollector())
		want := 40.0
		if db.Dialect() == dialect.SQLite {
			want = 4
		}
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() != "go_sql_max_open_connections" {
				continue
			}
			m := mf.GetMetric()
			if len(m) != 1 || len(m[0].GetLabel()) != 1 || m[0].GetLabel()[0].GetValue() != "messager" || m[0].GetGauge().GetValue() != want {
				t.Fatalf("go_sql_max_open_connections %v; want %v labelled db_name=messager", m, want)
			}
			return
		}
		t.Fatal("no go_sql_max_open_connections")
	})
}
