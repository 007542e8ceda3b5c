using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using Nexus.Model;
using Nexus.Model.Safetensors;
using Nexus.Model.Tokenization;

namespace Nexus.Training.Export;

/// <summary>What an export wrote.</summary>
public sealed record HfExportSummary(string Format, string OutputDirectory, NexusMoeConfig Source, int Tensors, long Bytes);

/// <summary>
/// Writes a Nexus MoE as a standard Hugging Face MoE checkpoint (config.json, model.safetensors, the tokenizer
/// files) that computes the same function: see <see cref="HfMoeFormat"/> for the mapping. Streaming, without
/// libtorch, like <see cref="Upcycler"/>: tensors are converted in chunks, so memory does not grow with the model.
/// The only computation is each layer's expert embeddings E, a few small matrix products done in double.
/// </summary>
public static class HfExporter
{
    private const int ChunkElements = 1 << 20;

    public static HfExportSummary Run(string modelDirectory, HfMoeFormat format, string outputDirectory,
        SafetensorsDtype dtype = SafetensorsDtype.F32)
    {
        if (dtype is not (SafetensorsDtype.F32 or SafetensorsDtype.F16 or SafetensorsDtype.BF16))
            throw new ArgumentException($"Exports are written in f32, f16 or bf16, not {dtype.ToFormatString()}.");
        if (!Directory.Exists(modelDirectory)) throw new DirectoryNotFoundException($"Model directory '{modelDirectory}' does not exist.");
        if (Contains(outputDirectory, modelDirectory))
            throw new ArgumentException(
                $"The output folder '{outputDirectory}' would replace the model folder '{modelDirectory}' (it is the same folder or contains it); export somewhere else.");

        var config = LoadMoeConfig(modelDirectory);
        format.CheckExpressible(config);
        var plan = format.Tensors(config).ToList();
        var layout = plan.Select(t => new TensorSpec(t.Name, dtype, t.Shape)).ToList();

        long bytes = 0;
        AtomicDirectory.Write(outputDirectory, staging =>
        {
            using var source = SafetensorsCheckpoint.Open(modelDirectory);
            CheckFits(source, config);
            using var writer = SafetensorsWriter.Create(Path.Combine(staging, ModelCheckpoint.WeightsFile), layout,
                new Dictionary<string, string> { ["format"] = "pt", ["nexus.export"] = format.Name });
            foreach (var tensor in plan) Write(writer, source, tensor, dtype);
            writer.Commit();
            bytes = writer.Entries.Sum(e => e.ByteLength);

            var json = format.Config(config, dtype).ToJsonString(new JsonSerializerOptions { WriteIndented = true });
            File.WriteAllText(Path.Combine(staging, ModelCheckpoint.ConfigFile), json + "\n");
            TokenizerFiles.CopyTo(modelDirectory, staging);
        });
        return new HfExportSummary(format.Name, outputDirectory, config, plan.Count, bytes);
    }

    /// <summary>
    /// E = W2 · (silu(W1g · D) ⊙ (W1u · D)) for D [N, m], W1g and W1u [p, m], W2 [h, p], all row-major; returns
    /// E [N, h]. Accumulated in double and rounded once, so it is the exact value to within one float rounding.
    /// </summary>
    public static float[] ExpertEmbeddings(ReadOnlySpan<float> domain, ReadOnlySpan<float> gate, ReadOnlySpan<float> up,
        ReadOnlySpan<float> down, int experts, int width, int projection, int hidden)
    {
        if (domain.Length != experts * width || gate.Length != projection * width || up.Length != projection * width ||
            down.Length != hidden * projection)
            throw new ArgumentException("Router tensor sizes do not match the given dimensions.");
        var result = new float[experts * hidden];
        var swiglu = new double[projection];
        for (var e = 0; e < experts; e++)
        {
            var d = domain.Slice(e * width, width);
            for (var r = 0; r < projection; r++)
            {
                double g = 0, u = 0;
                var gateRow = gate.Slice(r * width, width);
                var upRow = up.Slice(r * width, width);
                for (var j = 0; j < width; j++)
                {
                    g += (double)gateRow[j] * d[j];
                    u += (double)upRow[j] * d[j];
                }
                swiglu[r] = g / (1 + Math.Exp(-g)) * u;
            }
            for (var o = 0; o < hidden; o++)
            {
                var downRow = down.Slice(o * projection, projection);
                double sum = 0;
                for (var r = 0; r < projection; r++) sum += downRow[r] * swiglu[r];
                result[e * hidden + o] = (float)sum;
            }
        }
        return result;
    }

    private static NexusMoeConfig LoadMoeConfig(string modelDirectory)
    {
        var path = Path.Combine(modelDirectory, ModelCheckpoint.ConfigFile);
        if (!File.Exists(path)) throw new FileNotFoundException($"No config.json in '{modelDirectory}'.", path);
        string? modelType = null;
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllText(path));
            if (document.RootElement.ValueKind == JsonValueKind.Object &&
                document.RootElement.TryGetProperty("model_type", out var type) && type.ValueKind == JsonValueKind.String)
                modelType = type.GetString();
        }
        catch (JsonException)
        {
            // NexusMoeConfig.Load below reports the malformed file with its own message.
        }
        if (modelType == "llama")
            throw new ArgumentException(
                $"export needs a Nexus MoE; dense checkpoints are already Llama ({modelDirectory} has model_type 'llama' and loads in transformers and vLLM as it is).");
        return NexusMoeConfig.Load(path);
    }

    /// <summary>Every tensor the config implies, with its shape and a floating dtype; nothing we would silently drop.</summary>
    private static void CheckFits(SafetensorsCheckpoint source, NexusMoeConfig config)
    {
        var expected = config.TensorShapes().ToDictionary(t => t.Name, t => t.Shape, StringComparer.Ordinal);
        var problems = new List<string>();
        var missing = expected.Keys.Where(n => !source.Contains(n)).ToList();
        if (missing.Count > 0) problems.Add($"missing tensors: {Describe(missing)}");
        var unexpected = source.Names.Where(n => !expected.ContainsKey(n) && !IsIgnorable(n, config)).ToList();
        if (unexpected.Count > 0) problems.Add($"tensors the config does not explain: {Describe(unexpected)}");
        foreach (var (name, shape) in expected)
        {
            if (!source.Contains(name)) continue;
            var entry = source.Entry(name);
            if (!entry.Shape.SequenceEqual(shape))
                problems.Add($"{name} has shape [{string.Join(", ", entry.Shape)}], config.json implies [{string.Join(", ", shape)}]");
            else if (entry.Dtype is not (SafetensorsDtype.F32 or SafetensorsDtype.F16 or SafetensorsDtype.BF16))
                problems.Add($"{name} is {entry.Dtype.ToFormatString()}, not a floating type");
        }
        if (problems.Count > 0) throw new InvalidDataException($"{source.Path} does not match its config.json: {string.Join("; ", problems)}.");
    }

    private static bool IsIgnorable(string name, NexusMoeConfig config) =>
        name.EndsWith("rotary_emb.inv_freq", StringComparison.Ordinal) || (name == "lm_head.weight" && config.TieWordEmbeddings);

    private static void Write(SafetensorsWriter writer, SafetensorsCheckpoint source, ExportTensor tensor, SafetensorsDtype dtype)
    {
        switch (tensor.Source)
        {
            case TensorSource.Copy copy:
                WriteConverted(writer, tensor.Name, source.Entry(copy.Name).Dtype, source.GetBytes(copy.Name), copy.Scale, dtype);
                break;
            case TensorSource.Zeros:
                var total = new TensorSpec(tensor.Name, dtype, tensor.Shape).ByteLength;
                var zeros = new byte[Math.Min(ChunkElements, total)];
                for (var left = total; left > 0; left -= zeros.Length)
                    writer.WriteTensor(tensor.Name, zeros.AsSpan(0, (int)Math.Min(zeros.Length, left)));
                break;
            case TensorSource.ExpertEmbeddings router:
                var embeddings = ComputeExpertEmbeddings(source, router.RouterPrefix, tensor.Shape);
                WriteConverted(writer, tensor.Name, SafetensorsDtype.F32, MemoryMarshal.AsBytes(embeddings.AsSpan()), 1, dtype);
                break;
            default:
                throw new InvalidOperationException($"No writer for {tensor.Source.GetType().Name}.");
        }
    }

    /// <summary>Decodes, scales and re-encodes chunk by chunk; a plain copy in the same dtype is a byte copy.</summary>
    private static void WriteConverted(SafetensorsWriter writer, string name, SafetensorsDtype from, ReadOnlySpan<byte> bytes,
        float scale, SafetensorsDtype to)
    {
        if (from == to && scale == 1)
        {
            writer.WriteTensor(name, bytes);
            return;
        }
        var inSize = from.ElementSize();
        var count = bytes.Length / inSize;
        var floats = new float[Math.Min(ChunkElements, count)];
        var encoded = new byte[floats.Length * to.ElementSize()];
        for (var start = 0; start < count; start += floats.Length)
        {
            var n = Math.Min(floats.Length, count - start);
            var chunk = floats.AsSpan(0, n);
            SafetensorsConversions.ToSingle(from, bytes.Slice(start * inSize, n * inSize), chunk);
            if (scale != 1) for (var i = 0; i < n; i++) chunk[i] *= scale;
            var output = encoded.AsSpan(0, n * to.ElementSize());
            SafetensorsConversions.FromSingle(to, chunk, output);
            writer.WriteTensor(name, output);
        }
    }

    private static float[] ComputeExpertEmbeddings(SafetensorsCheckpoint source, string prefix, long[] shape)
    {
        var domain = source.Entry(prefix + "domain_embeddings");
        var gate = source.Entry(prefix + "gate_proj.weight");
        var down = source.Entry(prefix + "down_proj.weight");
        int experts = (int)domain.Shape[0], width = (int)domain.Shape[1], projection = (int)gate.Shape[0], hidden = (int)down.Shape[0];
        if (experts != shape[0] || hidden != shape[1])
            throw new InvalidDataException($"{prefix}: router tensors give E [{experts}, {hidden}], expected [{shape[0]}, {shape[1]}].");
        return ExpertEmbeddings(Floats(source, prefix + "domain_embeddings"), Floats(source, prefix + "gate_proj.weight"),
            Floats(source, prefix + "up_proj.weight"), Floats(source, prefix + "down_proj.weight"), experts, width, projection, hidden);
    }

    private static float[] Floats(SafetensorsCheckpoint source, string name)
    {
        var entry = source.Entry(name);
        var values = new float[entry.ElementCount];
        SafetensorsConversions.ToSingle(entry.Dtype, source.GetBytes(name), values);
        return values;
    }

    /// <summary>Whether <paramref name="inner"/> is <paramref name="outer"/> or lies below it.</summary>
    private static bool Contains(string outer, string inner)
    {
        var o = Path.TrimEndingDirectorySeparator(Path.GetFullPath(outer)) + Path.DirectorySeparatorChar;
        var i = Path.TrimEndingDirectorySeparator(Path.GetFullPath(inner)) + Path.DirectorySeparatorChar;
        return i.StartsWith(o, StringComparison.Ordinal);
    }

    private static string Describe(List<string> names) =>
        string.Join(", ", names.Take(5)) + (names.Count > 5 ? $" and {names.Count - 5} more" : "");
}
