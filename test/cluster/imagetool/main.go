// Command imagetool writes container images as `docker save`-format tarballs that `ctr images
// import` (and `docker load`) accept, without any registry or base image, and compares two such
// tarballs. It is the offline stand-in for `docker build` of the repository's Dockerfile.
//
//	imagetool -o messager.tar -ref REF -rootfs DIR [-version V]   the messager image
//	imagetool -o pause.tar -ref REF -pause BIN                    a pause image for the cluster
//	imagetool -compare A.tar B.tar                                print differences; exit 1 if any
//
// The messager image is one layer holding DIR exactly as it is on disk (paths, modes, owners,
// contents), where DIR is the tree build/image/rootfs.sh writes, the same tree the Dockerfile's
// final stage (FROM scratch) copies to /; its config is the one that stage declares (see
// messagerConfig). Timestamps are fixed, so the same inputs give the same image digest.
//
// -compare flattens both images' layers and reports every path whose type, mode, owner, size,
// content, link target or extended attributes differ, every path only one of them has, and every
// difference in the runtime config (user, entrypoint, cmd, env, working dir, exposed ports,
// labels, volumes, stop signal, health check, shell, platform). Layering, timestamps and history
// are not compared. test/cluster/image-equivalence runs it on imagetool's image and on the
// images docker builds from the Dockerfile.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
)

func main() {
	out := flag.String("o", "", "output tarball")
	ref := flag.String("ref", "", "image reference stored in the tarball")
	rootfs := flag.String("rootfs", "", "root filesystem from build/image/rootfs.sh: build the messager image")
	pause := flag.String("pause", "", "static pause binary: build the pause image")
	version := flag.String("version", "ci", "org.opencontainers.image.version label (the Dockerfile's VERSION build arg)")
	compare := flag.Bool("compare", false, "compare the two image tarballs given as arguments")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: imagetool -o OUT.tar -ref REF (-rootfs DIR [-version V] | -pause BIN)\n       imagetool -compare A.tar B.tar")
		flag.PrintDefaults()
	}
	flag.Parse()

	if *compare {
		if flag.NArg() != 2 {
			flag.Usage()
			os.Exit(2)
		}
		diffs, paths, err := compareTarballs(flag.Arg(0), flag.Arg(1))
		if err != nil {
			log.Fatal(err)
		}
		if len(diffs) > 0 {
			fmt.Printf("%d difference(s) between %s (A) and %s (B):\n", len(diffs), flag.Arg(0), flag.Arg(1))
			for _, d := range diffs {
				fmt.Println("  " + d)
			}
			os.Exit(1)
		}
		fmt.Printf("same %d paths (type, mode, owner, content) and same config: %s and %s\n", paths, flag.Arg(0), flag.Arg(1))
		return
	}

	if *out == "" || *ref == "" || (*rootfs == "") == (*pause == "") || flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	var (
		digest string
		err    error
	)
	if *pause != "" {
		digest, err = writePauseImage(*out, *ref, *pause)
	} else {
		digest, err = writeMessagerImage(*out, *ref, *rootfs, *version)
	}
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s %s\n", *ref, digest)
}
