using System.Text.Json;
using System.Text.Json.Serialization;
using Nexus.Bench;

// Usage: Nexus.Bench moe-step [--tokens 2048] [--hidden 512] [--intermediate 1536] [--experts 4] [--repeats 20] [--threads 2]
//        [--ab-threads 1] [--inference-pairs 120] [--training-pairs 30] [--linear-init nexus|random]
//        Nexus.Bench reproduce-report --runs runs/reproduce [--out bench/results/reproduction.md]
//        Nexus.Bench train --preset 3m|25m [--steps 30] [--warmup-steps 5] [--batch-size 16] [--seq-len 128] [--threads 2] [--no-sdpa]
//        Nexus.Bench upcycle [--experts 2,4] [--repeats 2] [--cache cold|warm|cold,warm] [--layers 24] [--hidden 1024] [--intermediate 2816] [--vocab 32000] [--dir /tmp]
//        Nexus.Bench storage [--size-mb 1024] [--dir /tmp]   (needs s3rver: scripts/ensure-s3rver.sh)
//        Nexus.Bench serve-models --out DIR [--hidden 512] [--intermediate 768] [--layers 8] [--heads 8] [--kv-heads 4] [--context 1024] [--experts 4] [--top-k 2]
//        Nexus.Bench serve-load --url http://127.0.0.1:PORT [--concurrency 1,4,16] [--seconds 120] [--prompt-tokens 64] [--max-tokens 128]
//        [--context 1024] [--bucket 128] [--no-long]   (against a running `nexus serve`; see bench/run.sh)
//        (upcycle-run is the child process that `upcycle` starts for each measured upcycle)
// Prints one JSON object, the same shape as bench/peer/llama_train.py prints.
var arguments = BenchArguments.Parse(args);
var result = arguments.Command switch
{
    "train" => TrainThroughput.Run(arguments),
    "moe-step" => MoeStep.Run(arguments),
    "upcycle" => UpcycleThroughput.Run(arguments),
    "upcycle-run" => UpcycleThroughput.RunChild(arguments),
    "reproduce-report" => ReproduceReport.Run(arguments),
    "storage" => StorageThroughput.Run(arguments),
    "storage-run" => StorageThroughput.RunChild(arguments),
    "serve-models" => ServeModels.Run(arguments),
    "serve-load" => ServeLoad.Run(arguments),
    _ => throw new ArgumentException($"Unknown benchmark '{arguments.Command}'; known: train, moe-step, upcycle, storage, serve-models, serve-load, reproduce-report."),
};
// A percentile of no samples is NaN; written as such rather than failing the whole run.
Console.WriteLine(JsonSerializer.Serialize(result, new JsonSerializerOptions { NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals }));
