// hello is kiln's example application: an HTTP server that serves its kodata directory
// and reports the version it was built with.
package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"path/filepath"
)

// version is set at build time through ldflags (see skaffold.yaml).
var version = "dev"

func main() {
	once := flag.Bool("once", false, "print a greeting and the kodata index, then exit")
	addr := flag.String("addr", ":8080", "address to listen on")
	flag.Parse()

	dataDir := os.Getenv("KO_DATA_PATH")
	if *once {
		index, err := os.ReadFile(filepath.Join(dataDir, "index.html"))
		if err != nil {
			log.Fatalf("reading kodata: %v", err)
		}
		fmt.Printf("hello from kiln, version %s\n%s", version, index)
		return
	}
	http.Handle("/", http.FileServer(http.Dir(dataDir)))
	http.HandleFunc("/version", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, version)
	})
	log.Printf("hello %s listening on %s", version, *addr)
	log.Fatal(http.ListenAndServe(*addr, nil))
}
