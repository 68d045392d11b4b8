// Command beam-dataflow-job prints the Dataflow job request Beam's Go SDK (v2.77.0, dataflowlib.Translate) makes
// for a pipeline proto and options, as JSON: the reference the project's tests compare Tidemark's request with
// (test/runners/dataflow/go-reference.test.ts). A tool of the tests, not part of the product.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"log"
	"os"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/dataflow/dataflowlib"
	pipepb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/pipeline_v1"
	"google.golang.org/protobuf/proto"
)

func main() {
	pipeline := flag.String("pipeline", "", "the encoded Beam pipeline (pipeline.pb)")
	name := flag.String("name", "", "job name")
	project := flag.String("project", "", "project")
	region := flag.String("region", "", "region")
	temp := flag.String("temp_location", "", "temp location")
	modelURL := flag.String("pipeline_url", "", "where the pipeline is staged")
	experiments := flag.String("experiments", "", "comma-separated experiments")
	labels := flag.String("labels", "", "k=v,...")
	maxWorkers := flag.Int64("max_workers", 0, "max workers")
	flag.Parse()

	b, err := os.ReadFile(*pipeline)
	if err != nil {
		log.Fatal(err)
	}
	var p pipepb.Pipeline
	if err := proto.Unmarshal(b, &p); err != nil {
		log.Fatal(err)
	}
	sum := sha256.Sum256(b)
	lbls := map[string]string{}
	for _, kv := range strings.Split(*labels, ",") {
		if kv == "" {
			continue
		}
		parts := strings.SplitN(kv, "=", 2)
		lbls[parts[0]] = parts[1]
	}
	opts := &dataflowlib.JobOptions{
		Name:          *name,
		Experiments:   strings.Split(*experiments, ","),
		Streaming:     true,
		Project:       *project,
		Region:        *region,
		Labels:        lbls,
		MaxNumWorkers: *maxWorkers,
		TempLocation:  *temp,
	}
	job, err := dataflowlib.Translate(context.Background(), &p, opts, "", *modelURL, hex.EncodeToString(sum[:]))
	if err != nil {
		log.Fatal(err)
	}
	out, err := json.MarshalIndent(job, "", "  ")
	if err != nil {
		log.Fatal(err)
	}
	os.Stdout.Write(append(out, '\n'))
}
