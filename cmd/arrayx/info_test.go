package main

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestInfoText(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, dir, "create", "m", "--dtype", "float32", "--shape", "10,20", "--order", "F", "--attr", "unit=K", "--attr", "by=me")
	want := `name:        m
dtype:       float32
shape:       (10, 20)
order:       F
nbytes:      800 (800 B)
data_offset: 4096
block_size:  4194304
blocks:      1
sealed:      true
attrs:       {"by":"me","unit":"K"}
`
	if got := mustRun(t, dir, "info", "m"); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	mustRun(t, dir, "create", "s", "--dtype", "u1", "--shape", "")
	got := mustRun(t, dir, "info", "s")
	for _, line := range []string{"shape:       ()\n", "attrs:       {}\n", "nbytes:      1 (1 B)\n"} {
		if !strings.Contains(got, line) {
			t.Errorf("info of a 0-d array without attrs lacks %q:\n%s", line, got)
		}
	}
}

func TestInfoJSON(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, dir, "create", "m", "--dtype", "int16", "--shape", "3,4", "--attr", "k=v")
	mustRun(t, dir, "create", "s", "--shape", "")
	wantKeys := []string{"attrs", "block_size", "data_offset", "dtype", "name", "nbytes", "order", "sealed", "shape"}

	var m map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, dir, "info", "m", "--json")), &m); err != nil {
		t.Fatal(err)
	}
	if keys := sortedKeys(m); !slices.Equal(keys, wantKeys) {
		t.Errorf("keys %v, want %v", keys, wantKeys)
	}
	want := map[string]any{
		"name": "m", "dtype": "int16", "shape": []any{3.0, 4.0}, "order": "C", "nbytes": 24.0,
		"data_offset": 4096.0, "block_size": 4194304.0, "sealed": true, "attrs": map[string]any{"k": "v"},
	}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("got %v\nwant %v", m, want)
	}

	var s map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, dir, "info", "--json", "s")), &s); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s["shape"], []any{}) || !reflect.DeepEqual(s["attrs"], map[string]any{}) {
		t.Errorf("0-d array without attrs: shape %#v attrs %#v, want [] and {}", s["shape"], s["attrs"])
	}
}

func TestJSONable(t *testing.T) {
	in := map[string]any{"m": map[any]any{1: nanv()}, "l": []any{float32(1), inf}}
	out := jsonable(in)
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"l":[1,"+Inf"],"m":{"1":"NaN"}}`; string(b) != want {
		t.Errorf("got %s, want %s", b, want)
	}
}

func nanv() float64 { return nan }

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
