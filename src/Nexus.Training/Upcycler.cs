using System.Collections.Concurrent;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.ExceptionServices;
using System.Text.RegularExpressions;
using Microsoft.Win32.SafeHandles;
using Nexus.Model;
using Nexus.Model.Safetensors;

namespace Nexus.Training;

/// <summary>A dense expert to upcycle: its name, its model folder, and (for the Nexus router) its domain embedding.</summary>
public sealed record UpcycleExpert(string Name, string ModelDirectory, float[]? DomainEmbedding);

/// <summary>
/// Seed + N dense experts → a Nexus MoE checkpoint, tensor by tensor, as DESIGN.md states it: the seed's
/// FFN becomes the shared expert, each expert's FFN a routed expert, every other tensor is the uniform
/// mean over the experts, and the router is initialised fresh (seeded Gaussians; see <see cref="RouterInitStd"/>). Tensors stream through
/// in chunks, so peak memory is a few chunk buffers and does not grow with the number of experts or the
/// model's size. No libtorch: bytes in, bytes out.
/// </summary>
public static partial class Upcycler
{
    [GeneratedRegex(@"^(?<prefix>model\.layers\.\d+\.mlp\.)(?:shared_expert|experts\.(?<expert>\d+))\.(?<proj>(?:gate|up|down)_proj\.weight)$")]
    private static partial Regex FfnName();

    public static NexusMoeConfig Run(string seedDirectory, IReadOnlyList<UpcycleExpert> experts, RouterKind router,
        string outputDirectory, long seed = 0, int topK = 1, double auxLossCoefficient = 0.05, int? routerProjectionSize = null)
    {
        if (experts.Count == 0) throw new ArgumentException("Upcycling needs at least one expert; none was given.");
        var duplicate = experts.GroupBy(e => e.Name).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new ArgumentException($"Expert name '{duplicate.Key}' is given twice; names must be unique.");

        var seedConfig = LlamaConfig.Load(Path.Combine(seedDirectory, ModelCheckpoint.ConfigFile));
        foreach (var expert in experts)
        {
            var expertConfig = LlamaConfig.Load(Path.Combine(expert.ModelDirectory, ModelCheckpoint.ConfigFile));
            if (CheckpointTensors.ArchitectureOf(expertConfig) != CheckpointTensors.ArchitectureOf(seedConfig))
                throw new InvalidDataException(
                    $"Expert '{expert.Name}' ({expert.ModelDirectory}) does not share the seed's architecture: {CheckpointTensors.ArchitectureOf(expertConfig)} vs seed {CheckpointTensors.ArchitectureOf(seedConfig)}.");
        }

        var width = 0;
        if (router == RouterKind.Nexus)
        {
            var missing = experts.FirstOrDefault(e => e.DomainEmbedding is null);
            if (missing is not null) throw new ArgumentException($"Expert '{missing.Name}' has no domain embedding; the nexus router needs one per expert (run `nexus embed`).");
            width = experts[0].DomainEmbedding!.Length;
            var odd = experts.FirstOrDefault(e => e.DomainEmbedding!.Length != width);
            if (odd is not null)
                throw new ArgumentException($"Domain embedding of '{odd.Name}' has width {odd.DomainEmbedding!.Length}, but '{experts[0].Name}' has {width}; all must be the same width.");
            if (width == 0) throw new ArgumentException("Domain embeddings are empty.");
        }

        var config = NexusMoeConfig.FromDense(seedConfig, experts.Select(e => e.Name).ToList(), router,
            width, routerProjectionSize ?? seedConfig.HiddenSize, topK, auxLossCoefficient);
        config.Validate();

        AtomicDirectory.Write(outputDirectory, staging =>
        {
            using var seedWeights = SafetensorsCheckpoint.Open(seedDirectory);
            var expertWeights = experts.Select(e => SafetensorsCheckpoint.Open(e.ModelDirectory)).ToList();
            try
            {
                var layout = config.TensorShapes().Select(t => new TensorSpec(t.Name, SafetensorsDtype.F32, t.Shape)).ToList();
                using var writer = SafetensorsWriter.Create(Path.Combine(staging, ModelCheckpoint.WeightsFile), layout,
                    new Dictionary<string, string> { ["format"] = "pt", ["nexus.step"] = "upcycle" });
                Stream(layout, writer, seedWeights, expertWeights, experts, seed);
                writer.Commit();
            }
            finally
            {
                foreach (var weights in expertWeights) weights.Dispose();
            }
            config.Save(Path.Combine(staging, ModelCheckpoint.ConfigFile));
            Nexus.Model.Tokenization.TokenizerFiles.CopyTo(seedDirectory, staging);
        });
        return config;
    }

    /// <summary>
    /// Elements per chunk (8 MiB of fp32): tensors stream through in chunks of this size, so reads and writes are
    /// large and sequential, and the chunk buffers are all the tensor memory the upcycle holds.
    /// </summary>
    private const int ChunkElements = 1 << 21;

    /// <summary>Chunks in flight from the reading thread to the writing thread, and from the router-initialising one.</summary>
    private const int ReadBuffers = 4, RouterBuffers = 4;

    /// <summary>
    /// Three threads, so that the disk does not wait for the CPU: one reads and averages the experts' tensors in
    /// layout order, one draws the random router weights ahead of time (seconds of CPU for a model's routers,
    /// independent of the input), and the calling thread writes. Every chunk reaches the writer in layout order
    /// through the reading thread's queue.
    /// </summary>
    private static void Stream(IReadOnlyList<TensorSpec> layout, SafetensorsWriter writer, SafetensorsCheckpoint seed,
        IReadOnlyList<SafetensorsCheckpoint> experts, IReadOnlyList<UpcycleExpert> sources, long randomSeed)
    {
        // No chunk is longer than the largest tensor: small models get small buffers.
        var bufferElements = (int)Math.Min(ChunkElements, layout.Max(s => s.ElementCount));
        using var stop = new CancellationTokenSource();
        using var routers = new ChunkQueue(RouterBuffers, bufferElements, stop.Token);
        using var chunks = new ChunkQueue(ReadBuffers, bufferElements, stop.Token);
        routers.Start(() =>
        {
            var gaussian = new GaussianFiller();
            foreach (var spec in layout.Where(s => IsRandomlyInitialised(s.Name)))
            {
                var random = new DeterministicRandom(CheckpointTensors.StableHash(spec.Name) ^ (ulong)randomSeed);
                var std = RouterInitStd(spec);
                routers.Send(spec, (values, _) => gaussian.Fill(values, std, ref random));
            }
        });
        chunks.Start(() =>
        {
            using var reader = new ChunkReader(bufferElements);
            foreach (var spec in layout)
            {
                if (IsRandomlyInitialised(spec.Name)) chunks.Forward(spec, routers);
                else Produce(spec, chunks, reader, seed, experts, sources);
            }
        });
        try
        {
            foreach (var chunk in chunks.Drain())
            {
                writer.WriteTensor(chunk.Name, MemoryMarshal.AsBytes(chunk.Values));
                chunk.Release();
            }
        }
        finally
        {
            // After a write failure the producers may be waiting for buffers: stop them before the checkpoints close.
            stop.Cancel();
            chunks.Wait();
            routers.Wait();
        }
    }

    /// <summary>
    /// The projection's first layer W1 (gate_proj, up_proj) gets fan-in scaling, 1/√width, so W1·d is of order one
    /// for a domain embedding d of order-one entries; W2 and the linear router get HF's N(0, 0.02). With 0.02 in
    /// both layers, E = W2·SwiGLU(W1·d) starts near 2·10⁻³ per entry: every logit near zero and a gradient to W1 that
    /// scales with W2, so the projection hardly moves in a short finetune (docs/method.md).
    /// </summary>
    internal static double RouterInitStd(TensorSpec spec) =>
        spec.Name.EndsWith(".router.gate_proj.weight", StringComparison.Ordinal) || spec.Name.EndsWith(".router.up_proj.weight", StringComparison.Ordinal)
            ? 1.0 / Math.Sqrt(spec.Shape[^1])
            : 0.02;

    private static bool IsRandomlyInitialised(string name) =>
        name.Contains(".router.", StringComparison.Ordinal) && !name.EndsWith(".router.domain_embeddings", StringComparison.Ordinal);

    /// <summary>Computes one output tensor read from the checkpoints (or the domain embeddings), chunk by chunk.</summary>
    private static void Produce(TensorSpec spec, ChunkQueue chunks, ChunkReader reader, SafetensorsCheckpoint seed,
        IReadOnlyList<SafetensorsCheckpoint> experts, IReadOnlyList<UpcycleExpert> sources)
    {
        var ffn = FfnName().Match(spec.Name);
        if (ffn.Success)
        {
            var denseName = ffn.Groups["prefix"].Value + ffn.Groups["proj"].Value;
            var source = ffn.Groups["expert"].Success ? experts[int.Parse(ffn.Groups["expert"].Value)] : seed;
            var (file, entry) = Locate(source, denseName, spec);
            chunks.Send(spec, (values, start) => reader.Read(file, entry, start, values));
        }
        else if (spec.Name.EndsWith(".router.domain_embeddings", StringComparison.Ordinal))
        {
            var embeddings = sources.SelectMany(e => e.DomainEmbedding!).ToArray();
            chunks.Send(spec, (values, start) => embeddings.AsSpan((int)start, values.Length).CopyTo(values));
        }
        else
        {
            // Every non-FFN tensor: the uniform mean over the experts, accumulated in expert order from zero,
            // then scaled by 1/N — element by element, so chunking does not change a bit of the result.
            var located = experts.Select(e => Locate(e, spec.Name, spec)).ToList();
            var scale = 1f / experts.Count;
            chunks.Send(spec, (values, start) =>
            {
                values.Clear();
                foreach (var (file, entry) in located) Accumulate(values, reader.ReadScratch(file, entry, start, values.Length));
                Scale(values, scale);
            });
        }
    }

    private static (SafetensorsFile File, TensorEntry Entry) Locate(SafetensorsCheckpoint checkpoint, string name, TensorSpec spec)
    {
        if (!checkpoint.Contains(name)) throw new InvalidDataException($"{checkpoint.Path} has no tensor {name}.");
        var file = checkpoint.FileOf(name);
        var entry = file[name];
        if (!entry.Shape.SequenceEqual(spec.Shape))
            throw new InvalidDataException($"{checkpoint.Path}: {name} has shape [{string.Join(", ", entry.Shape)}], expected [{string.Join(", ", spec.Shape)}].");
        return (file, entry);
    }

    private static void Accumulate(Span<float> sum, ReadOnlySpan<float> addend)
    {
        var vectors = MemoryMarshal.Cast<float, Vector<float>>(sum);
        var addends = MemoryMarshal.Cast<float, Vector<float>>(addend);
        for (var i = 0; i < vectors.Length; i++) vectors[i] += addends[i];
        for (var i = vectors.Length * Vector<float>.Count; i < sum.Length; i++) sum[i] += addend[i];
    }

    private static void Scale(Span<float> values, float scale)
    {
        var vectors = MemoryMarshal.Cast<float, Vector<float>>(values);
        for (var i = 0; i < vectors.Length; i++) vectors[i] *= scale;
        for (var i = vectors.Length * Vector<float>.Count; i < values.Length; i++) values[i] *= scale;
    }

    private delegate void FillChunk(Span<float> values, long start);

    /// <summary>A filled chunk of a tensor; <see cref="Release"/> hands its buffer back to the queue that lent it.</summary>
    private sealed record Chunk(string Name, float[] Buffer, int Length, BlockingCollection<float[]> Owner)
    {
        public Span<float> Values => Buffer.AsSpan(0, Length);
        public void Release() => Owner.Add(Buffer);
    }

    /// <summary>
    /// Chunks made on a producing thread, in order, into a fixed set of buffers, so memory stays at that many
    /// chunks however large the model. A producer's failure is rethrown to whoever takes from the queue.
    /// </summary>
    private sealed class ChunkQueue(int buffers, int bufferElements, CancellationToken stop) : IDisposable
    {
        private readonly BlockingCollection<float[]> _free =
            new(new ConcurrentQueue<float[]>(Enumerable.Range(0, buffers).Select(_ => GC.AllocateUninitializedArray<float>(bufferElements))));
        private readonly BlockingCollection<Chunk> _ready = new();
        private Task _producer = Task.CompletedTask;
        private Exception? _failure;

        // A thread of its own: the producer blocks on I/O and on buffers, which would starve the thread pool.
        public void Start(Action produce) => _producer = Task.Factory.StartNew(() =>
        {
            try
            {
                produce();
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
            }
            catch (Exception e)
            {
                _failure = e;
            }
            finally
            {
                _ready.CompleteAdding();
            }
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

        /// <summary>On the producing thread: fills the tensor's chunks in order (start = the chunk's first element) and queues them.</summary>
        public void Send(TensorSpec spec, FillChunk fill)
        {
            for (long start = 0; start < spec.ElementCount; start += ChunkElements)
            {
                var buffer = _free.Take(stop);
                var length = (int)Math.Min(ChunkElements, spec.ElementCount - start);
                fill(buffer.AsSpan(0, length), start);
                _ready.Add(new Chunk(spec.Name, buffer, length, _free));
            }
        }

        /// <summary>On the producing thread: passes on the tensor's chunks that another queue made ahead.</summary>
        public void Forward(TensorSpec spec, ChunkQueue source)
        {
            for (long start = 0; start < spec.ElementCount; start += ChunkElements)
            {
                if (!source._ready.TryTake(out var chunk, Timeout.Infinite, stop)) source.ThrowFailure();
                if (chunk!.Name != spec.Name) throw new InvalidOperationException($"Expected a chunk of {spec.Name}, got one of {chunk.Name}.");
                _ready.Add(chunk);
            }
        }

        /// <summary>The chunks in order, until the producer is done; then its failure, if any.</summary>
        public IEnumerable<Chunk> Drain()
        {
            foreach (var chunk in _ready.GetConsumingEnumerable(stop)) yield return chunk;
            if (_failure is not null) ThrowFailure();
        }

        public void Wait() => _producer.Wait();

        private void ThrowFailure()
        {
            _producer.Wait();
            if (_failure is not null) ExceptionDispatchInfo.Throw(_failure);
            throw new InvalidOperationException("The router initialisation ended before every router tensor was made.");
        }

        public void Dispose()
        {
            _free.Dispose();
            _ready.Dispose();
        }
    }

    /// <summary>
    /// Reads tensor chunks with pread(2) rather than through the checkpoints' memory mappings: mapped pages count
    /// towards the process's RSS for as long as the mapping lives, which made peak RSS grow with every expert
    /// read; pages read this way sit in the page cache, which the kernel reclaims. One producing thread only.
    /// </summary>
    private sealed class ChunkReader(int bufferElements) : IDisposable
    {
        private readonly Dictionary<string, SafeFileHandle> _handles = new(StringComparer.Ordinal);
        private readonly float[] _scratch = GC.AllocateUninitializedArray<float>(bufferElements);
        private byte[] _raw = [];

        /// <summary>Elements [start, start + destination.Length) of the tensor as floats: F32 bytes as they are; F16, BF16 converted.</summary>
        public void Read(SafetensorsFile file, TensorEntry entry, long start, Span<float> destination)
        {
            if (entry.Dtype == SafetensorsDtype.F32)
            {
                ReadRaw(file, entry, start, MemoryMarshal.AsBytes(destination));
                return;
            }
            var bytes = checked(destination.Length * entry.Dtype.ElementSize());
            if (_raw.Length < bytes) _raw = GC.AllocateUninitializedArray<byte>(bytes);
            ReadRaw(file, entry, start, _raw.AsSpan(0, bytes));
            SafetensorsConversions.ToSingle(entry.Dtype, _raw.AsSpan(0, bytes), destination);
        }

        /// <summary>Like <see cref="Read"/>, into the reader's own buffer, valid until the next call.</summary>
        public ReadOnlySpan<float> ReadScratch(SafetensorsFile file, TensorEntry entry, long start, int count)
        {
            var scratch = _scratch.AsSpan(0, count);
            Read(file, entry, start, scratch);
            return scratch;
        }

        private void ReadRaw(SafetensorsFile file, TensorEntry entry, long start, Span<byte> bytes)
        {
            if (!_handles.TryGetValue(file.Path, out var handle))
                _handles.Add(file.Path, handle = File.OpenHandle(file.Path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.SequentialScan));
            var offset = file.DataOffset + entry.Begin + start * entry.Dtype.ElementSize();
            for (var done = 0; done < bytes.Length;)
            {
                var n = RandomAccess.Read(handle, bytes[done..], offset + done);
                if (n == 0) throw new InvalidDataException($"{file.Path}: ends inside tensor {entry.Name}; the file is truncated.");
                done += n;
            }
        }

        public void Dispose()
        {
            foreach (var handle in _handles.Values) handle.Dispose();
        }
    }

    /// <summary>
    /// Fills spans with scaled normal values, two draws of the seeded stream per value, in order. The draws are
    /// cheap and sequential; the logarithm and cosine cost some 35 ns a value (seconds for a model's routers, as
    /// much CPU as all the copying), so that part runs on every core, block by block, making the same values
    /// one thread would.
    /// </summary>
    private sealed class GaussianFiller
    {
        private const int Block = 1 << 16;
        private readonly ulong[] _draws = new ulong[2 * Block];
        private readonly float[] _values = new float[Block];

        public void Fill(Span<float> destination, double scale, ref DeterministicRandom random)
        {
            var parts = Environment.ProcessorCount;
            for (var offset = 0; offset < destination.Length; offset += Block)
            {
                var count = Math.Min(Block, destination.Length - offset);
                for (var i = 0; i < 2 * count; i++) _draws[i] = random.NextUInt64();
                Parallel.For(0, parts, part =>
                {
                    for (int i = count * part / parts, end = count * (part + 1) / parts; i < end; i++)
                        _values[i] = (float)(scale * CheckpointTensors.Gaussian(_draws[2 * i], _draws[2 * i + 1]));
                });
                _values.AsSpan(0, count).CopyTo(destination[offset..]);
            }
        }
    }
}
