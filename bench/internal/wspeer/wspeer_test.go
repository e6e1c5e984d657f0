package wspeer

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

func TestMux(t *testing.T) {
	var conns Conns[int]
	for i := range 3 {
		conns.Add(i)
	}
	conns.Remove(1)
	if got := slices.Sorted(slices.Values(conns.All())); !slices.Equal(got, []int{0, 2}) {
		t.Fatalf("All: %v", got)
	}
	var sent []byte
	srv := httptest.NewServer(Mux(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "echo") },
		func(msg []byte) int { sent = msg; return len(conns.All()) }))
	defer srv.Close()
	for _, tc := range []struct {
		method, path, body string
		status             int
		answer             string
	}{
		{"POST", BroadcastPath, "news", 200, "2"},
		{"GET", BroadcastPath, "", 405, ""},
		{"POST", BroadcastPath, strings.Repeat("x", MaxBroadcast+1), 413, ""},
		{"GET", EchoPath, "", 200, "echo"},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(tc.body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || tc.answer != "" && string(b) != tc.answer {
			t.Errorf("%s %s: %d %q, want %d %q", tc.method, tc.path, resp.StatusCode, b, tc.status, tc.answer)
		}
	}
	if string(sent) != "news" {
		t.Errorf("broadcast %q, want news", sent)
	}
}
