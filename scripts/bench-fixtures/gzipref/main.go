// ko's layer path, as the reference kiln's layer writer is timed against: one binary in a
// tar (ko-app/ and ko-app/NAME, as ko lays it out), sha256 over the tar (the diffID),
// compress/gzip at BestSpeed (what ko and go-containerregistry use), sha256 over the gzip
// stream (the digest), the compressed bytes written to a file.
//
// Usage: gzipref BINARY OUT. Prints the digest and compressed size.
package main

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

func main() {
	if err := run(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

type counter struct{ n int64 }

func (c *counter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

func run(binary, out string) error {
	in, err := os.Open(binary)
	if err != nil {
		return err
	}
	defer in.Close()
	info, err := in.Stat()
	if err != nil {
		return err
	}
	file, err := os.Create(out)
	if err != nil {
		return err
	}
	defer file.Close()
	digest, size := sha256.New(), &counter{}
	gz, _ := gzip.NewWriterLevel(io.MultiWriter(file, digest, size), gzip.BestSpeed)
	diffID := sha256.New()
	tw := tar.NewWriter(io.MultiWriter(gz, diffID))
	if err := tw.WriteHeader(&tar.Header{Name: "ko-app/", Typeflag: tar.TypeDir, Mode: 0o555}); err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: "ko-app/" + filepath.Base(binary), Typeflag: tar.TypeReg, Mode: 0o555, Size: info.Size()}); err != nil {
		return err
	}
	if _, err := io.Copy(tw, in); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := gz.Close(); err != nil {
		return err
	}
	fmt.Printf("sha256:%x %d diffid sha256:%x\n", digest.Sum(nil), size.n, diffID.Sum(nil))
	return nil
}
