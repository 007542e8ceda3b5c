using System.Text.Json;
using Nexus.Model.Safetensors;
using Nexus.Model.Tokenization;

namespace Nexus.Model;

/// <summary>
/// A model folder in Hugging Face's layout: config.json, model.safetensors (or shards with an index) and the
/// tokenizer files. config.json's model_type says which model it holds: "llama" (dense) or "nexus_moe".
/// </summary>
public static class ModelCheckpoint
{
    public const string ConfigFile = "config.json";
    public const string WeightsFile = "model.safetensors";

    /// <summary>Loads the dense or MoE model the folder holds, in eval mode.</summary>
    public static CausalLanguageModel LoadModel(string directory)
    {
        var configPath = ConfigPath(directory);
        var modelType = ModelTypeOf(configPath);
        CausalLanguageModel model = modelType switch
        {
            "nexus_moe" => new NexusMoeForCausalLM(NexusMoeConfig.Load(configPath)),
            _ => new LlamaForCausalLM(LlamaConfig.Load(configPath)),
        };
        try
        {
            using var weights = SafetensorsCheckpoint.Open(directory);
            ModelWeights.Load(model, weights, model.Config);
        }
        catch
        {
            model.Dispose();
            throw;
        }
        model.eval();
        return model;
    }

    /// <summary>Loads a dense Llama; an MoE folder is a clear error.</summary>
    public static LlamaForCausalLM LoadDense(string directory)
    {
        var configPath = ConfigPath(directory);
        if (ModelTypeOf(configPath) == "nexus_moe")
            throw new InvalidDataException($"{directory} holds a Nexus MoE; this step needs a dense Llama model (the seed or an expert).");
        return (LlamaForCausalLM)LoadModel(directory);
    }

    public static (CausalLanguageModel Model, ITextTokenizer Tokenizer) Load(string directory) =>
        (LoadModel(directory), TokenizerFiles.Load(directory));

    /// <summary>The model_type in a config.json, or null when it has none.</summary>
    public static string? ModelTypeOf(string configPath)
    {
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllText(configPath));
            return document.RootElement.ValueKind == JsonValueKind.Object
                   && document.RootElement.TryGetProperty("model_type", out var type) && type.ValueKind == JsonValueKind.String
                ? type.GetString()
                : null;
        }
        catch (JsonException e)
        {
            throw new InvalidModelConfigException($"{configPath}: not valid JSON ({e.Message}).");
        }
    }

    /// <summary>Writes config, weights and tokenizer as one folder, swapped into place atomically.</summary>
    public static void Save(CausalLanguageModel model, string directory, Action<string> writeTokenizer,
        SafetensorsDtype dtype = SafetensorsDtype.F32) =>
        AtomicDirectory.Write(directory, staging =>
        {
            model.Config.Save(Path.Combine(staging, ConfigFile));
            ModelWeights.Save(model, Path.Combine(staging, WeightsFile), dtype);
            writeTokenizer(staging);
        });

    private static string ConfigPath(string directory)
    {
        if (!Directory.Exists(directory)) throw new DirectoryNotFoundException($"Model directory '{directory}' does not exist.");
        var path = Path.Combine(directory, ConfigFile);
        return File.Exists(path) ? path : throw new FileNotFoundException($"No config.json in model directory '{directory}'.", path);
    }
}
