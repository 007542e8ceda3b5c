using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using Nexus.Model;
using Nexus.Model.Safetensors;
using Nexus.Model.Tokenization;
using Nexus.Training;

namespace Nexus.Bench;

/// <summary>
/// <see cref="Upcycler.Run"/> (the upcycle step) on a ≥ 1 GB fp32 Llama: throughput and peak RSS, against the
/// disk's own sequential read+write bandwidth measured in the same run.
///
/// Throughput = (bytes read + bytes written) / seconds of <see cref="Upcycler.Run"/>. Bytes read are the seed's
/// FFN tensors plus every expert's whole checkpoint (each tensor is read once: FFNs are copied, everything else
/// averaged); bytes written are the output model.safetensors. The peer copies the same volume on the same disk:
/// it reads the same input files sequentially (8 MiB at a time) and writes the output's tensor bytes (the file
/// less its header, a few kB), interleaved in the same proportion, to one file that it fsyncs at the end, as the
/// upcycle's writer does.
///
/// Before each measured phase dirty pages are synced and either the page cache is dropped (<c>--cache cold</c>,
/// needs root), so both sides read from the disk, or every input is read once (<c>--cache warm</c>), so both
/// read from memory; <c>--cache cold,warm</c> does both. Writes always reach the disk (fsync). The upcycle runs
/// in a child process (<c>upcycle-run</c>), so its peak RSS (VmHWM) is its own. Which side goes first alternates
/// from one repeat to the next, so that drift in the machine hits both alike.
/// </summary>
public static partial class UpcycleThroughput
{
    private const int ChunkBytes = 8 << 20;

    public static Dictionary<string, object> Run(BenchArguments arguments)
    {
        var config = new LlamaConfig
        {
            VocabSize = arguments.GetInt("vocab", 32000), HiddenSize = arguments.GetInt("hidden", 1024),
            IntermediateSize = arguments.GetInt("intermediate", 2816), NumHiddenLayers = arguments.GetInt("layers", 24),
            NumAttentionHeads = arguments.GetInt("heads", 16), NumKeyValueHeads = arguments.GetInt("heads", 16),
            TieWordEmbeddings = false, MaxPositionEmbeddings = 2048,
        };
        config.Validate();
        var counts = arguments.Get("experts", "2,4").Split(',').Select(int.Parse).ToArray();
        var repeats = arguments.GetInt("repeats", 2);
        var caches = arguments.Get("cache", "cold").Split(',');
        if (caches.Any(c => c is not ("cold" or "warm"))) throw new ArgumentException($"--cache is '{arguments.Get("cache", "")}'; use cold, warm or cold,warm.");
        if (caches.Contains("cold") && !CanDropCaches())
            throw new InvalidOperationException("--cache cold drops the page cache and needs root (/proc/sys/vm/drop_caches); use --cache warm.");

        var root = Path.Combine(arguments.Get("dir", Path.GetTempPath()), "nexus-upcycle-bench-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(root);
        try
        {
            var clock = Stopwatch.StartNew();
            var seed = WriteDense(Path.Combine(root, "seed"), config, 0);
            var experts = Enumerable.Range(0, counts.Max())
                .Select(e => new UpcycleExpert($"expert{e}", WriteDense(Path.Combine(root, $"expert{e}"), config, (ulong)e + 1), DomainEmbedding(config.HiddenSize, e)))
                .ToList();
            var generateSeconds = clock.Elapsed.TotalSeconds;
            var checkpointBytes = new FileInfo(Path.Combine(seed, ModelCheckpoint.WeightsFile)).Length;
            Console.Error.WriteLine($"upcycle bench: wrote seed + {experts.Count} experts of {checkpointBytes / 1e9:F2} GB each in {generateSeconds:F0} s under {root}");

            var runs = new List<Dictionary<string, object>>();
            foreach (var cache in caches)
            for (var repeat = 0; repeat < repeats; repeat++)
            foreach (var count in counts)
            {
                var chosen = experts.Take(count).ToList();
                var readBytes = SeedFfnBytes(config) + chosen.Sum(e => new FileInfo(Path.Combine(e.ModelDirectory, ModelCheckpoint.WeightsFile)).Length);
                var output = Path.Combine(root, "moe");
                var peerWrittenBytes = OutputBytes(config, count);
                (double Seconds, double CpuSeconds) Peer()
                {
                    Prepare(cache, seed, chosen);
                    return SequentialCopy(seed, chosen, readBytes, peerWrittenBytes, Path.Combine(root, "peer.bin"));
                }

                // Alternate which side goes first, so that drift in the machine hits both alike.
                var peerFirst = repeat % 2 == 1;
                var peer = peerFirst ? Peer() : default;
                Prepare(cache, seed, chosen);
                var child = RunChild(seed, chosen, output);
                var writtenBytes = new FileInfo(Path.Combine(output, ModelCheckpoint.WeightsFile)).Length;
                Directory.Delete(output, recursive: true);
                if (!peerFirst) peer = Peer();

                var upcycleSeconds = child.GetProperty("seconds").GetDouble();
                var run = new Dictionary<string, object>
                {
                    ["cache"] = cache, ["experts"] = count, ["repeat"] = repeat + 1, ["peer_first"] = peerFirst,
                    ["read_bytes"] = readBytes, ["written_bytes"] = writtenBytes,
                    ["upcycle_seconds"] = upcycleSeconds,
                    ["upcycle_process_seconds"] = child.GetProperty("process_seconds").GetDouble(),
                    ["upcycle_cpu_seconds"] = child.GetProperty("cpu_seconds").GetDouble(),
                    ["upcycle_bytes_per_second"] = (readBytes + writtenBytes) / upcycleSeconds,
                    ["peer_seconds"] = peer.Seconds,
                    ["peer_cpu_seconds"] = peer.CpuSeconds,
                    ["peer_written_bytes"] = peerWrittenBytes,
                    ["peer_bytes_per_second"] = (readBytes + peerWrittenBytes) / peer.Seconds,
                    ["upcycle_over_peer"] = (readBytes + writtenBytes) / upcycleSeconds / ((readBytes + peerWrittenBytes) / peer.Seconds),
                    ["peak_rss_bytes"] = child.GetProperty("peak_rss_bytes").GetInt64(),
                    ["peak_rss_anon_bytes"] = child.GetProperty("peak_rss_anon_bytes").GetInt64(),
                    ["peak_rss_file_bytes"] = child.GetProperty("peak_rss_file_bytes").GetInt64(),
                };
                Console.Error.WriteLine("upcycle bench: " + JsonSerializer.Serialize(run));
                runs.Add(run);
            }

            return new Dictionary<string, object>
            {
                ["benchmark"] = "upcycle",
                ["config"] = $"hidden {config.HiddenSize}, intermediate {config.IntermediateSize}, layers {config.NumHiddenLayers}, vocab {config.VocabSize}, untied, fp32",
                ["parameters"] = config.ParameterCount(),
                ["checkpoint_bytes"] = checkpointBytes,
                ["generate_seconds"] = generateSeconds,
                ["summary"] = caches.SelectMany(cache => counts.Select(count =>
                    Summary(runs.Where(r => (string)r["cache"] == cache && (int)r["experts"] == count).ToList()))).ToList(),
                ["runs"] = runs,
            };
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static Dictionary<string, object> Summary(IReadOnlyList<Dictionary<string, object>> runs)
    {
        double Median(string key) => MedianOf(runs.Select(r => Convert.ToDouble(r[key])));
        double Min(string key) => runs.Min(r => Convert.ToDouble(r[key]));
        double Max(string key) => runs.Max(r => Convert.ToDouble(r[key]));
        return new Dictionary<string, object>
        {
            ["cache"] = runs[0]["cache"], ["experts"] = runs[0]["experts"], ["runs"] = runs.Count,
            ["read_bytes"] = runs[0]["read_bytes"], ["written_bytes"] = runs[0]["written_bytes"],
            ["upcycle_bytes_per_second_median"] = Median("upcycle_bytes_per_second"),
            ["peer_bytes_per_second_median"] = Median("peer_bytes_per_second"),
            ["upcycle_over_peer_median"] = Median("upcycle_over_peer"),
            ["upcycle_over_peer_min"] = Min("upcycle_over_peer"),
            ["upcycle_over_peer_max"] = Max("upcycle_over_peer"),
            ["upcycle_cpu_seconds_median"] = Median("upcycle_cpu_seconds"),
            ["peer_cpu_seconds_median"] = Median("peer_cpu_seconds"),
            ["peak_rss_bytes_min"] = (long)Min("peak_rss_bytes"),
            ["peak_rss_bytes_max"] = (long)Max("peak_rss_bytes"),
        };
    }

    private static double MedianOf(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }

    /// <summary>The upcycle's output tensor bytes for this many experts (the file adds its header), for the peer when it runs first.</summary>
    private static long OutputBytes(LlamaConfig config, int experts) =>
        NexusMoeConfig.FromDense(config, Enumerable.Range(0, experts).Select(e => $"expert{e}").ToList(), RouterKind.Nexus, config.HiddenSize)
            .TensorShapes().Sum(t => t.Shape.Aggregate(4L, (a, b) => a * b));

    /// <summary>The child: one <see cref="Upcycler.Run"/> with the Nexus router, its time and its memory peaks.</summary>
    public static Dictionary<string, object> RunChild(BenchArguments arguments)
    {
        var process = Stopwatch.StartNew();
        var seed = arguments.Get("seed", "");
        var experts = arguments.Get("expert-dirs", "").Split(',')
            .Select((directory, e) => new UpcycleExpert($"expert{e}", directory, DomainEmbedding(LlamaConfig.Load(Path.Combine(directory, ModelCheckpoint.ConfigFile)).HiddenSize, e)))
            .ToList();
        using var sampler = new PeakSampler();
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        Upcycler.Run(seed, experts, RouterKind.Nexus, arguments.Get("out", ""), seed: 0);
        clock.Stop();
        return new Dictionary<string, object>
        {
            ["seconds"] = clock.Elapsed.TotalSeconds,
            ["cpu_seconds"] = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds,
            ["process_seconds"] = process.Elapsed.TotalSeconds,
            ["peak_rss_bytes"] = StatusBytes("VmHWM:"),
            ["peak_rss_anon_bytes"] = sampler.PeakAnon,
            ["peak_rss_file_bytes"] = sampler.PeakFile,
        };
    }

    private static JsonElement RunChild(string seed, IReadOnlyList<UpcycleExpert> experts, string output)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath!)
        {
            RedirectStandardOutput = true,
            ArgumentList = { "upcycle-run", "--seed", seed, "--expert-dirs", string.Join(',', experts.Select(e => e.ModelDirectory)), "--out", output },
        };
        using var child = Process.Start(start)!;
        var text = child.StandardOutput.ReadToEnd();
        child.WaitForExit();
        if (child.ExitCode != 0) throw new InvalidOperationException($"upcycle-run exited with {child.ExitCode}: {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>
    /// The peer, a copy loop like cp(1): reads the upcycle's input volume from the same files (seed first, then each
    /// expert, whole, in order; sequential-access advice, as cp gives) and writes its output tensor volume to one
    /// file, interleaving writes in proportion, then fsyncs. One thread, 8 MiB at a time.
    /// </summary>
    private static (double Seconds, double CpuSeconds) SequentialCopy(string seed, IReadOnlyList<UpcycleExpert> experts, long readBytes, long writtenBytes, string target)
    {
        var sources = new[] { seed }.Concat(experts.Select(e => e.ModelDirectory)).Select(d => Path.Combine(d, ModelCheckpoint.WeightsFile)).ToList();
        var buffer = GC.AllocateUninitializedArray<byte>(ChunkBytes, pinned: true);
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        long read = 0, written = 0;
        using (var output = new FileStream(target, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 1))
        {
            foreach (var source in sources)
            {
                using var input = new FileStream(source, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.SequentialScan);
                int n;
                while (read < readBytes && (n = input.Read(buffer, 0, (int)Math.Min(buffer.Length, readBytes - read))) > 0)
                {
                    read += n;
                    written += WriteRepeated(output, buffer, (long)((double)writtenBytes * read / readBytes) - written);
                }
            }
            if (read != readBytes) throw new InvalidOperationException($"peer read {read} of {readBytes} bytes; the inputs are shorter than the upcycle reads.");
            WriteRepeated(output, buffer, writtenBytes - written);
            output.Flush(flushToDisk: true);
        }
        var seconds = clock.Elapsed.TotalSeconds;
        var cpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds;
        File.Delete(target);
        return (seconds, cpuSeconds);
    }

    private static long WriteRepeated(FileStream output, byte[] buffer, long count)
    {
        for (var left = count; left > 0; left -= buffer.Length) output.Write(buffer, 0, (int)Math.Min(left, buffer.Length));
        return count;
    }

    /// <summary>A dense fp32 checkpoint with deterministic pseudo-random weights in ±0.06 (no libtorch: bytes only).</summary>
    private static string WriteDense(string directory, LlamaConfig config, ulong seed)
    {
        Directory.CreateDirectory(directory);
        var pattern = new float[(1 << 22) + 1021]; // 16 MiB, not a power of two, so tensors start at different phases
        var state = 0x9E3779B97F4A7C15UL * (seed + 1);
        for (var i = 0; i < pattern.Length; i++)
        {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17;
            pattern[i] = ((int)(state >> 40) - (1 << 23)) * (0.06f / (1 << 23));
        }
        var bytes = MemoryMarshal.AsBytes(pattern.AsSpan());
        var layout = config.ParameterShapes().Select(p => new TensorSpec(p.Name, SafetensorsDtype.F32, p.Shape)).ToList();
        using (var writer = SafetensorsWriter.Create(Path.Combine(directory, ModelCheckpoint.WeightsFile), layout, new Dictionary<string, string> { ["format"] = "pt" }))
        {
            var phase = 0;
            foreach (var spec in layout)
            {
                phase = (phase + 4 * 7919) % bytes.Length;
                for (long left = spec.ByteLength; left > 0;)
                {
                    var n = (int)Math.Min(left, bytes.Length - phase);
                    writer.WriteTensor(spec.Name, bytes.Slice(phase, n));
                    left -= n;
                    phase = (phase + n) % bytes.Length;
                }
            }
            writer.Commit();
        }
        config.Save(Path.Combine(directory, ModelCheckpoint.ConfigFile));
        TokenizerFiles.SaveByte(directory);
        return directory;
    }

    private static float[] DomainEmbedding(int width, int expert) =>
        Enumerable.Range(0, width).Select(i => (float)Math.Sin(expert * 7 + i)).ToArray();

    private static long SeedFfnBytes(LlamaConfig config) =>
        config.ParameterShapes().Where(p => p.Name.Contains(".mlp.", StringComparison.Ordinal)).Sum(p => p.Shape.Aggregate(4L, (a, b) => a * b));

    /// <summary>Flushes dirty pages, then either drops the page cache (cold) or reads every input once (warm).</summary>
    private static void Prepare(string cache, string seed, IReadOnlyList<UpcycleExpert> experts)
    {
        sync();
        if (cache == "cold")
        {
            File.WriteAllText("/proc/sys/vm/drop_caches", "3");
            return;
        }
        var buffer = new byte[ChunkBytes];
        foreach (var directory in experts.Select(e => e.ModelDirectory).Prepend(seed))
        {
            using var input = new FileStream(Path.Combine(directory, ModelCheckpoint.WeightsFile), FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1);
            while (input.Read(buffer) > 0) { }
        }
    }

    private static bool CanDropCaches()
    {
        try
        {
            using var _ = new FileStream("/proc/sys/vm/drop_caches", FileMode.Open, FileAccess.Write);
            return true;
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            return false;
        }
    }

    /// <summary>A memory line of /proc/self/status (VmHWM:, RssAnon:, RssFile:), in bytes.</summary>
    internal static long StatusBytes(string field)
    {
        var line = File.ReadLines("/proc/self/status").First(l => l.StartsWith(field, StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
    }

    [LibraryImport("libc", EntryPoint = "sync")]
    private static partial void sync();

    /// <summary>
    /// Peaks of anonymous and file-backed resident memory, sampled every 20 ms, to tell what VmHWM is made of
    /// (mapped checkpoint pages count as RssFile while they are mapped).
    /// </summary>
    private sealed class PeakSampler : IDisposable
    {
        private readonly Timer _timer;
        private readonly Lock _gate = new();

        public PeakSampler() => _timer = new Timer(_ => Sample(), null, 0, 20);

        public long PeakAnon { get { Sample(); return _peakAnon; } }
        public long PeakFile { get { Sample(); return _peakFile; } }
        private long _peakAnon, _peakFile;

        private void Sample()
        {
            lock (_gate)
            {
                _peakAnon = Math.Max(_peakAnon, StatusBytes("RssAnon:"));
                _peakFile = Math.Max(_peakFile, StatusBytes("RssFile:"));
            }
        }

        public void Dispose() => _timer.Dispose();
    }
}
