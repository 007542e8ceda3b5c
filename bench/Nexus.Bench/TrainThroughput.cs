using System.Diagnostics;
using Nexus.Model;
using Nexus.Training;
using TorchSharp;

namespace Nexus.Bench;

/// <summary>
/// Training throughput of <see cref="Trainer"/> on random byte tokens, measured over the steps after a
/// warm-up, and peak RSS (VmHWM) at the last step — the same protocol as bench/peer/llama_train.py.
/// </summary>
public static class TrainThroughput
{
    public static Dictionary<string, object> Run(BenchArguments arguments)
    {
        var preset = arguments.Get("preset", "3m");
        int steps = arguments.GetInt("steps", 30), warmup = arguments.GetInt("warmup-steps", 5);
        int batch = arguments.GetInt("batch-size", 16), sequence = arguments.GetInt("seq-len", 128);
        var sdpa = !arguments.Flag("no-sdpa");
        var traceMemory = arguments.Flag("trace-rss");
        torch.set_num_threads(arguments.GetInt("threads", 2));
        var allocator = arguments.Flag("glibc-default") ? "glibc dynamic mmap threshold" : NativeAllocator.Configure();

        var random = new Random(0);
        var tokens = Enumerable.Range(0, 1_000_000).Select(_ => random.Next(256)).ToArray();
        var corpus = new TokenCorpus(tokens, tokens[..20_000], ["random"]);
        var options = new TrainerOptions
        {
            Steps = warmup + steps, BatchSize = batch, SequenceLength = sequence, WarmupSteps = 1,
            EvalEvery = 0, EvalTokens = sequence, CheckpointEvery = 0, Seed = 0,
        };

        torch.manual_seed(0);
        using var model = new LlamaForCausalLM(LlamaConfig.Preset(preset));
        model.InitializeWeights(0);
        model.UseSdpa = sdpa;

        var trainer = new Trainer(options);
        var clock = new Stopwatch();
        long peakRss = 0;
        trainer.StepCompleted += done =>
        {
            if (traceMemory) Console.Error.WriteLine($"step {done}: RSS {ResidentBytes("VmRSS:") >> 20} MiB, peak {ResidentBytes("VmHWM:") >> 20} MiB");
            if (done == warmup) clock.Start();
            if (done == options.Steps)
            {
                clock.Stop();
                peakRss = ResidentBytes("VmHWM:");
            }
        };
        var run = Path.Combine(Path.GetTempPath(), "nexus-bench-" + Guid.NewGuid().ToString("N"));
        try
        {
            var result = trainer.Run(model, corpus, run, resume: false);
            return new Dictionary<string, object>
            {
                ["implementation"] = $"nexus (TorchSharp {typeof(torch).Assembly.GetName().Version}, {(sdpa ? "SDPA" : "explicit attention")}, {allocator.Replace("allocator: ", "")})",
                ["preset"] = preset,
                ["parameters"] = model.Config.ParameterCount(),
                ["tokens_per_second"] = (double)steps * batch * sequence / clock.Elapsed.TotalSeconds,
                ["peak_rss_bytes"] = peakRss,
                ["final_loss"] = result.FinalTrainLoss,
            };
        }
        finally
        {
            Directory.Delete(run, recursive: true);
        }
    }

    /// <summary>A memory line of /proc/self/status (VmRSS: now, VmHWM: peak), in bytes.</summary>
    private static long ResidentBytes(string field)
    {
        var line = File.ReadLines("/proc/self/status").First(l => l.StartsWith(field, StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
    }
}
