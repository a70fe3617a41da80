module example.com/gzipref

go 1.22
