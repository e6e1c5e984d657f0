package loophttp_test

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/iomux/iomux/loophttp"
)

// A net/http handler served from the event loop: the same ServeMux,
// loophttp.Server where http.Server was.
func Example() {
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello, %s\n", r.URL.Query().Get("name"))
	})
	srv := &loophttp.Server{Handler: mux} // was: &http.Server{Handler: mux}
	if err := srv.Start("tcp", "127.0.0.1:0", nil); err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Shutdown(context.Background())

	resp, err := http.Get("http://" + srv.Addrs()[0].String() + "/hello?name=loop")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Print(resp.Status, " ", string(body))
	// Output: 200 OK hello, loop
}
