using Nexus.Model.Safetensors;
using TorchSharp;
using static TorchSharp.torch;

namespace Nexus.Model;

/// <summary>Moves a module's parameters and persistent buffers (its state dict) to and from safetensors checkpoints, by name.</summary>
public static class ModelWeights
{
    /// <summary>
    /// Checkpoint tensors that a model may legitimately not have: HF writes a tied lm_head copy and
    /// older exports store rotary frequencies, which we derive from the config.
    /// </summary>
    public static bool IsIgnorable(string name, LlamaConfig? config) =>
        name.EndsWith("rotary_emb.inv_freq", StringComparison.Ordinal) ||
        (name == "lm_head.weight" && config is { TieWordEmbeddings: true });

    public static void Save(nn.Module module, string path, SafetensorsDtype dtype = SafetensorsDtype.F32,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        var parameters = module.state_dict().Select(p => (name: p.Key, parameter: p.Value)).ToList();
        var layout = parameters.Select(p => new TensorSpec(p.name, dtype, p.parameter.shape)).ToList();
        using var writer = SafetensorsWriter.Create(path, layout, metadata ?? new Dictionary<string, string> { ["format"] = "pt" });
        foreach (var (name, parameter) in parameters)
        {
            using var scope = NewDisposeScope();
            var stored = parameter.detach().to(ToScalarType(dtype)).contiguous();
            writer.WriteTensor(name, stored.bytes);
        }
        writer.Commit();
    }

    /// <summary>
    /// Copies every parameter of <paramref name="module"/> from the checkpoint, converting dtypes.
    /// Fails naming the tensors that are missing, unexpected, or of the wrong shape.
    /// </summary>
    public static void Load(nn.Module module, SafetensorsCheckpoint checkpoint, LlamaConfig? config = null)
    {
        var parameters = module.state_dict();
        var problems = new List<string>();
        var missing = parameters.Keys.Where(n => !checkpoint.Contains(n)).ToList();
        if (missing.Count > 0) problems.Add($"missing tensors: {Describe(missing)}");
        var unexpected = checkpoint.Names.Where(n => !parameters.ContainsKey(n) && !IsIgnorable(n, config)).ToList();
        if (unexpected.Count > 0) problems.Add($"unexpected tensors: {Describe(unexpected)}");
        foreach (var (name, parameter) in parameters)
        {
            if (!checkpoint.Contains(name)) continue;
            var entry = checkpoint.Entry(name);
            if (!entry.Shape.SequenceEqual(parameter.shape))
                problems.Add($"{name} has shape [{string.Join(", ", entry.Shape)}] in the checkpoint but [{string.Join(", ", parameter.shape)}] in the model");
        }
        if (problems.Count > 0)
            throw new InvalidDataException($"{checkpoint.Path} does not fit the model: {string.Join("; ", problems)}.");

        using var noGrad = no_grad();
        foreach (var (name, parameter) in parameters)
        {
            using var scope = NewDisposeScope();
            var entry = checkpoint.Entry(name);
            var staged = empty(entry.Shape, ToScalarType(entry.Dtype));
            checkpoint.GetBytes(name).CopyTo(staged.bytes);
            parameter.copy_(staged);
        }
    }

    public static ScalarType ToScalarType(SafetensorsDtype dtype) => dtype switch
    {
        SafetensorsDtype.F64 => ScalarType.Float64,
        SafetensorsDtype.F32 => ScalarType.Float32,
        SafetensorsDtype.F16 => ScalarType.Float16,
        SafetensorsDtype.BF16 => ScalarType.BFloat16,
        SafetensorsDtype.I64 => ScalarType.Int64,
        SafetensorsDtype.I32 => ScalarType.Int32,
        SafetensorsDtype.I16 => ScalarType.Int16,
        SafetensorsDtype.I8 => ScalarType.Int8,
        SafetensorsDtype.U8 => ScalarType.Byte,
        SafetensorsDtype.BOOL => ScalarType.Bool,
        _ => throw new NotSupportedException($"dtype {dtype} has no torch equivalent."),
    };

    public static SafetensorsDtype ParseDtype(string text) => text.ToLowerInvariant() switch
    {
        "f32" or "float32" or "fp32" => SafetensorsDtype.F32,
        "f16" or "float16" or "fp16" => SafetensorsDtype.F16,
        "bf16" or "bfloat16" => SafetensorsDtype.BF16,
        _ => throw new ArgumentException($"Unknown dtype '{text}': use f32, f16 or bf16."),
    };

    private static string Describe(List<string> names) =>
        string.Join(", ", names.Take(5)) + (names.Count > 5 ? $" and {names.Count - 5} more" : "");
}
