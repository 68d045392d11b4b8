// Command beam-descriptors writes the protocol buffer descriptors of Apache Beam's portability API (Runner, Fn, Job,
// Provision, Artifact and Endpoints), as compiled into Beam's Go SDK module at the version go.mod requires, to one
// FileDescriptorSet (with every file they import, dependencies first). scripts/gen-protos.sh generates TypeScript from
// it. It is a build tool of the project, not product code: run it through that script.
package main

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	// Registered by import: their init functions add Beam's files to the global registry.
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/model/fnexecution_v1"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/model/jobmanagement_v1"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/model/pipeline_v1"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: beam-descriptors OUT.binpb")
		os.Exit(2)
	}
	var roots []protoreflect.FileDescriptor
	protoregistry.GlobalFiles.RangeFiles(func(f protoreflect.FileDescriptor) bool {
		if strings.HasPrefix(string(f.Package()), "org.apache.beam.model.") {
			roots = append(roots, f)
		}
		return true
	})
	sort.Slice(roots, func(i, j int) bool { return roots[i].Path() < roots[j].Path() })
	set := &descriptorpb.FileDescriptorSet{}
	seen := map[string]bool{}
	var add func(f protoreflect.FileDescriptor)
	add = func(f protoreflect.FileDescriptor) {
		if seen[f.Path()] {
			return
		}
		seen[f.Path()] = true
		imports := f.Imports()
		for i := 0; i < imports.Len(); i++ {
			add(imports.Get(i).FileDescriptor)
		}
		set.File = append(set.File, protodesc.ToFileDescriptorProto(f))
	}
	for _, f := range roots {
		add(f)
	}
	out, err := proto.MarshalOptions{Deterministic: true}.Marshal(set)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := os.WriteFile(os.Args[1], out, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, f := range set.File {
		fmt.Fprintln(os.Stderr, f.GetName())
	}
}
