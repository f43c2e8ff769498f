// Command demo serves the live view over an output root, as
// `runner -serve` does, without running anything:
//
//	go run ./runner/live/internal/demo -serve :8080 results
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"

	"github.com/styletransfer/gostyle/runner/live"
)

func main() {
	addr := flag.String("serve", ":8080", "address: a bare :port binds 127.0.0.1 only")
	flag.Parse()
	if err := run(*addr, flag.Args()); err != nil {
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		os.Exit(1)
	}
}

func run(addr string, roots []string) error {
	if len(roots) == 0 {
		return fmt.Errorf("name an output root to watch")
	}
	s, err := live.New(addr)
	if err != nil {
		return err
	}
	defer s.Close()
	for _, root := range roots {
		if err := s.Watch(root); err != nil {
			return err
		}
	}
	fmt.Println("live view:", s.URL())
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt)
	<-stop
	return nil
}
