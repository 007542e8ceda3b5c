using Nexus.Model;
using Nexus.Model.Safetensors;
using Nexus.Model.Tokenization;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Nexus.Training.Tests;

public sealed class ExpertSurgeryTests : IDisposable
{
    private const int Width = 6;
    private static readonly LlamaConfig Tiny = LlamaConfig.Preset("tiny");
    private static readonly string[] Projections = ["gate_proj", "up_proj", "down_proj"];
    private static readonly string[] NonFfn =
        ["model.embed_tokens.weight", "model.layers.0.input_layernorm.weight", "model.layers.1.self_attn.q_proj.weight",
         "model.layers.1.self_attn.o_proj.weight", "model.layers.0.post_attention_layernorm.weight", "model.norm.weight"];

    private readonly TempDirectory temp = new();

    public void Dispose() => temp.Dispose();

    // ---- fixtures -------------------------------------------------------------------------------

    /// <summary>Weights well away from their initialisation, so that routing and gates are not near-uniform.</summary>
    private static void Randomize(nn.Module model, long seed)
    {
        using var noGrad = no_grad();
        var generator = new Generator((ulong)seed);
        foreach (var (name, tensor) in model.state_dict())
        {
            if (name.EndsWith("norm.weight", StringComparison.Ordinal)) tensor.uniform_(0.5, 1.5, generator);
            else tensor.normal_(0, name.EndsWith("domain_embeddings", StringComparison.Ordinal) ? 1.0 : 0.1, generator);
        }
    }

    /// <summary>A "trained" MoE: random weights (router included) in the layout upcycling writes.</summary>
    private string SaveMoe(string name, RouterKind router, string[] experts, long seed, int topK = 1)
    {
        var config = NexusMoeConfig.FromDense(Tiny, experts, router, router == RouterKind.Nexus ? Width : 0, topK: topK);
        using var model = new NexusMoeForCausalLM(config);
        Randomize(model, seed);
        var directory = Path.Combine(temp.Path, name);
        AtomicDirectory.Write(directory, staging =>
        {
            config.Save(Path.Combine(staging, ModelCheckpoint.ConfigFile));
            ModelWeights.Save(model, Path.Combine(staging, ModelCheckpoint.WeightsFile));
            TokenizerFiles.SaveByte(staging);
        });
        return directory;
    }

    /// <summary>A dense expert; with <paramref name="nonFfnFrom"/>, its non-FFN tensors are that MoE's (so the λ-merge is a no-op).</summary>
    private string SaveDense(string name, long seed, LlamaConfig? config = null, string? nonFfnFrom = null)
    {
        using var model = new LlamaForCausalLM(config ?? Tiny);
        Randomize(model, seed);
        if (nonFfnFrom is not null)
        {
            using var moe = SafetensorsCheckpoint.Open(nonFfnFrom);
            using var noGrad = no_grad();
            foreach (var (tensorName, tensor) in model.state_dict())
                if (!tensorName.Contains(".mlp.", StringComparison.Ordinal)) tensor.copy_(Read(moe, tensorName));
        }
        var directory = Path.Combine(temp.Path, name);
        ModelCheckpoint.Save(model, directory, TokenizerFiles.SaveByte);
        return directory;
    }

    private static float[] Embedding(int seed, int width = Width) =>
        Enumerable.Range(0, width).Select(i => (float)Math.Sin(seed * 7 + i) * 2).ToArray();

    private static float[] Floats(SafetensorsCheckpoint checkpoint, string name)
    {
        var entry = checkpoint.Entry(name);
        var values = new float[entry.ElementCount];
        SafetensorsConversions.ToSingle(entry.Dtype, checkpoint.GetBytes(name), values);
        return values;
    }

    private static Tensor Read(SafetensorsCheckpoint checkpoint, string name) =>
        tensor(Floats(checkpoint, name)).reshape(checkpoint.Entry(name).Shape);

    private static bool SameBytes(SafetensorsCheckpoint a, string nameA, SafetensorsCheckpoint b, string nameB) =>
        a.Entry(nameA).Dtype == b.Entry(nameB).Dtype && a.GetBytes(nameA).SequenceEqual(b.GetBytes(nameB));

    private static NexusMoeConfig Config(string directory) => NexusMoeConfig.Load(Path.Combine(directory, ModelCheckpoint.ConfigFile));

    private static NexusMoeForCausalLM LoadModel(string directory)
    {
        var model = new NexusMoeForCausalLM(Config(directory));
        using (var weights = SafetensorsCheckpoint.Open(directory)) ModelWeights.Load(model, weights, model.Config);
        model.eval();
        return model;
    }

    /// <summary>SwiGLU FFN from the checkpoint's tensors under <paramref name="prefix"/>: W_down · (silu(W_gate x) ⊙ W_up x).</summary>
    private static Tensor Ffn(SafetensorsCheckpoint checkpoint, string prefix, Tensor x) =>
        (functional.silu(x.matmul(Read(checkpoint, prefix + "gate_proj.weight").t())) * x.matmul(Read(checkpoint, prefix + "up_proj.weight").t()))
        .matmul(Read(checkpoint, prefix + "down_proj.weight").t());

    private static bool Equal(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && (a == b).all().item<bool>();

    private static Tensor Rows(Tensor t, Tensor mask) => t.index_select(0, mask.nonzero().squeeze(1));

    /// <summary>
    /// The exact relation between an MoE layer before and after surgery, for one batch of token states.
    /// <paramref name="oldIndexOf"/>[j] is the old index of new expert j (−1: the added expert). The
    /// surviving experts' logits must be unchanged (to float rounding); a token whose old expert survives and that
    /// does not go to the added one keeps its expert; its output differs from the old one only through the
    /// softmax's normaliser: y_new − shared(x) = (Z_old / Z_new) · (y_old − shared(x)). A token that goes to
    /// the added expert does so exactly when its logit beats every old one, with y − shared(x) = p_new · FFN_new(x).
    /// Returns how many tokens kept their expert and how many went to the added one.
    /// </summary>
    private static (long Kept, long ToAdded) AssertSurgeryRelation(SharedExpertMoe before, SharedExpertMoe after, int[] oldIndexOf,
        Tensor tokens, Tensor shared, Func<Tensor, Tensor>? addedFfn = null)
    {
        using var scope = NewDisposeScope();
        var oldLogits = before.Router.Logits(tokens);                       // [N, n_old]
        var newLogits = after.Router.Logits(tokens);                        // [N, n_new]
        var survivors = Enumerable.Range(0, oldIndexOf.Length).Where(j => oldIndexOf[j] >= 0).ToArray();
        // The surviving experts' router parameters are bit-identical (asserted on the tensors elsewhere), but a GEMM
        // over a different number of experts may round differently, so logits agree to float rounding, not bit for bit.
        var survivingNew = newLogits.index_select(1, tensor(survivors));
        var survivingOld = oldLogits.index_select(1, tensor(survivors.Select(j => (long)oldIndexOf[j]).ToArray()));
        Assert.True(survivingNew.allclose(survivingOld, rtol: 1e-6, atol: 1e-6),
            $"a surviving expert's router logits changed by {(survivingNew - survivingOld).abs().max().item<float>()}");

        var oldRun = before.Forward(tokens);
        var (oldOut, oldChosen) = (oldRun.Hidden, oldRun.ExpertIndices.squeeze(1));
        var newOut = after.Forward(tokens);
        var newChosen = newOut.ExpertIndices.squeeze(1);
        var map = tensor(oldIndexOf.Select(i => (long)i).ToArray());
        var newChosenOld = map.index_select(0, newChosen);                  // old index of the new choice, −1 for the added expert
        var oldSurvives = map.unsqueeze(0).eq(oldChosen.unsqueeze(1)).any(1);
        var toAdded = newChosenOld.eq(-1);
        var kept = oldSurvives.logical_and(toAdded.logical_not());
        Assert.True(Equal(Rows(newChosenOld, kept), Rows(oldChosen, kept)), "a token whose expert survived changed expert");

        var ratio = (oldLogits.logsumexp(1) - newLogits.logsumexp(1)).exp().unsqueeze(1);   // Z_old / Z_new
        var expected = Rows((oldOut - shared) * ratio, kept);
        var actual = Rows(newOut.Hidden - shared, kept);
        Assert.True(actual.allclose(expected, rtol: 1e-4, atol: 1e-6), $"gated outputs differ by {(actual - expected).abs().max().item<float>()}");
        // The relation discriminates: the gates did change (Z_new ≠ Z_old).
        Assert.False(actual.allclose(Rows(oldOut - shared, kept), rtol: 1e-3, atol: 1e-6));

        var added = Array.IndexOf(oldIndexOf, -1);
        if (added >= 0)
        {
            var wins = newLogits.select(1, added).gt(survivingNew.max(1).values);
            Assert.True(Equal(toAdded, wins), "the added expert is chosen exactly when its logit beats every old one");
            var gate = functional.softmax(newLogits, 1).select(1, added).unsqueeze(1);
            var addedOut = Rows(newOut.Hidden - shared, toAdded);
            var reference = Rows(gate * addedFfn!(tokens), toAdded);
            Assert.True(addedOut.allclose(reference, rtol: 1e-4, atol: 1e-6));
        }
        return (kept.sum().item<long>(), toAdded.sum().item<long>());
    }

    // ---- extension -------------------------------------------------------------------------------

    [Fact]
    public void ExtensionCopiesExpertsAndRouterAndMergesEverythingElse()
    {
        var moeDirectory = SaveMoe("moe", RouterKind.Nexus, ["law", "poems", "news"], seed: 1);
        var denseDirectory = SaveDense("code", 2);
        var output = Path.Combine(temp.Path, "extended");
        var embedding = Embedding(4);

        var config = ExpertSurgery.Extend(moeDirectory, new UpcycleExpert("code", denseDirectory, embedding), output);

        var before = Config(moeDirectory);
        Assert.Equal(["law", "poems", "news", "code"], config.ExpertNames);
        Assert.Equal(config.ToJson(), Config(output).ToJson());
        Assert.Equal(before.ToJson(), (config with { ExpertNames = before.ExpertNames }).ToJson());

        const double lambda = 1.0 / 4;
        using var moe = SafetensorsCheckpoint.Open(moeDirectory);
        using var dense = SafetensorsCheckpoint.Open(denseDirectory);
        using var extended = SafetensorsCheckpoint.Open(output);
        Assert.Equal(config.TensorShapes().Select(t => t.Name).Order(), extended.Names.Order());
        for (var layer = 0; layer < Tiny.NumHiddenLayers; layer++)
        {
            var mlp = $"model.layers.{layer}.mlp.";
            foreach (var proj in Projections)
            {
                Assert.True(SameBytes(extended, $"{mlp}shared_expert.{proj}.weight", moe, $"{mlp}shared_expert.{proj}.weight"));
                for (var e = 0; e < 3; e++)
                    Assert.True(SameBytes(extended, $"{mlp}experts.{e}.{proj}.weight", moe, $"{mlp}experts.{e}.{proj}.weight"), $"layer {layer} expert {e} {proj}");
                Assert.True(SameBytes(extended, $"{mlp}experts.3.{proj}.weight", dense, $"{mlp}{proj}.weight"), $"layer {layer} new expert {proj}");
            }
            foreach (var proj in Projections)
                Assert.True(SameBytes(extended, $"{mlp}router.{proj}.weight", moe, $"{mlp}router.{proj}.weight"), "the router projection changed");
            Assert.Equal(Floats(moe, $"{mlp}router.domain_embeddings").Concat(embedding), Floats(extended, $"{mlp}router.domain_embeddings"));
        }
        foreach (var name in NonFfn.Append("model.layers.0.self_attn.k_proj.weight").Append("model.layers.1.self_attn.v_proj.weight"))
        {
            var (old, added, merged) = (Floats(moe, name), Floats(dense, name), Floats(extended, name));
            for (var i = 0; i < merged.Length; i++)
                Assert.True(Math.Abs((1 - lambda) * old[i] + lambda * added[i] - merged[i]) < 1e-6, $"{name}[{i}] is not (1−λ)·φ_moe + λ·φ_new");
            Assert.NotEqual(old, merged);
        }
        Assert.IsType<ByteTokenizer>(TokenizerFiles.Load(output));
    }

    [Fact]
    public void TheNewExpertsEmbeddingIsTheProjectionOfItsDomainEmbedding()
    {
        var moeDirectory = SaveMoe("moe", RouterKind.Nexus, ["law", "poems"], seed: 3);
        var output = Path.Combine(temp.Path, "extended");
        var embedding = Embedding(5);
        ExpertSurgery.Extend(moeDirectory, new UpcycleExpert("code", SaveDense("code", 4), embedding), output);

        using var before = LoadModel(moeDirectory);
        using var after = LoadModel(output);
        using var weights = SafetensorsCheckpoint.Open(output);
        using var noGrad = no_grad();
        for (var layer = 0; layer < Tiny.NumHiddenLayers; layer++)
        {
            var router = Assert.IsType<NexusRouter>(after.Decoder.Layers[layer].Moe.Router);
            var expertEmbeddings = router.ExpertEmbeddings();                                         // [3, h]
            var prefix = $"model.layers.{layer}.mlp.router.";
            var d = tensor(embedding).unsqueeze(0);                                                   // [1, m]
            var projected = (functional.silu(d.matmul(Read(weights, prefix + "gate_proj.weight").t())) * d.matmul(Read(weights, prefix + "up_proj.weight").t()))
                .matmul(Read(weights, prefix + "down_proj.weight").t()).squeeze(0);                   // [h]
            Assert.True(expertEmbeddings[2].allclose(projected, rtol: 1e-5, atol: 1e-7));
            Assert.True(projected.abs().max().item<float>() > 1e-3); // a real vector, not a vanishing one

            var old = Assert.IsType<NexusRouter>(before.Decoder.Layers[layer].Moe.Router).ExpertEmbeddings();
            Assert.True(expertEmbeddings.narrow(0, 0, 2).allclose(old, rtol: 1e-6, atol: 1e-7), "an old expert's embedding changed");
        }
    }

    [Fact]
    public void TokensRoutedToOldExpertsKeepTheirExpertAndOnlyTheSoftmaxNormaliserChanges()
    {
        var moeDirectory = SaveMoe("moe", RouterKind.Nexus, ["law", "poems", "news"], seed: 5);
        var denseDirectory = SaveDense("code", 6);
        var output = Path.Combine(temp.Path, "extended");
        ExpertSurgery.Extend(moeDirectory, new UpcycleExpert("code", denseDirectory, Embedding(7)), output);

        using var before = LoadModel(moeDirectory);
        using var after = LoadModel(output);
        using var moe = SafetensorsCheckpoint.Open(moeDirectory);
        using var dense = SafetensorsCheckpoint.Open(denseDirectory);
        using var noGrad = no_grad();
        var generator = new Generator(11);
        long kept = 0, toAdded = 0;
        for (var layer = 0; layer < Tiny.NumHiddenLayers; layer++)
        {
            using var scope = NewDisposeScope();
            var tokens = randn([256, Tiny.HiddenSize], generator: generator);
            var shared = Ffn(moe, $"model.layers.{layer}.mlp.shared_expert.", tokens);
            var counts = AssertSurgeryRelation(before.Decoder.Layers[layer].Moe, after.Decoder.Layers[layer].Moe, [0, 1, 2, -1], tokens, shared,
                x => Ffn(dense, $"model.layers.{layer}.mlp.", x));
            kept += counts.Kept;
            toAdded += counts.ToAdded;
        }
        Assert.True(kept > 0 && toAdded > 0, $"the test needs tokens of both kinds (kept {kept}, to the new expert {toAdded})");
    }

    [Fact]
    public void WithANoOpMergeTheModelRoutesLayerZeroAsBeforeAndRemovalRestoresItExactly()
    {
        var moeDirectory = SaveMoe("moe", RouterKind.Nexus, ["law", "poems", "news"], seed: 8);
        var denseDirectory = SaveDense("code", 9, nonFfnFrom: moeDirectory);
        var extendedDirectory = Path.Combine(temp.Path, "extended");
        var restoredDirectory = Path.Combine(temp.Path, "restored");
        ExpertSurgery.Extend(moeDirectory, new UpcycleExpert("code", denseDirectory, Embedding(10)), extendedDirectory);
        ExpertSurgery.Remove(extendedDirectory, "code", restoredDirectory);

        using (var moe = SafetensorsCheckpoint.Open(moeDirectory))
        using (var extended = SafetensorsCheckpoint.Open(extendedDirectory))
        using (var restored = SafetensorsCheckpoint.Open(restoredDirectory))
        {
            // (1−λ)·φ + λ·φ is φ again, bit for bit, and removal undoes the rest.
            foreach (var name in NonFfn) Assert.True(SameBytes(extended, name, moe, name), $"{name} changed under a no-op merge");
            Assert.Equal(moe.Names.Order(), restored.Names.Order());
            foreach (var name in moe.Names) Assert.True(SameBytes(restored, name, moe, name), $"{name} did not survive extend + remove");
        }

        using var before = LoadModel(moeDirectory);
        using var after = LoadModel(extendedDirectory);
        using var back = LoadModel(restoredDirectory);
        using var noGrad = no_grad();
        var ids = randint(0, Tiny.VocabSize, [4, 48], generator: new Generator(12));
        var old = before.ForwardDetailed(ids);
        var extendedRun = after.ForwardDetailed(ids);
        // Embeddings, attention and norms are the MoE's, so layer 0's router sees the same states: a token not
        // sent to the new expert keeps its old expert, token by token.
        var oldChoice = old.ExpertsPerLayer[0].squeeze(1);
        var newChoice = extendedRun.ExpertsPerLayer[0].squeeze(1);
        var toNew = newChoice.eq(3);
        Assert.True(Equal(Rows(newChoice, toNew.logical_not()), Rows(oldChoice, toNew.logical_not())));
        Assert.InRange(toNew.sum().item<long>(), 1, ids.numel() - 1);
        // The gates of every old expert shrink (Z grows), so the logits move; removal undoes it exactly.
        Assert.False(Equal(old.Logits, extendedRun.Logits));
        Assert.True(Equal(old.Logits, back.Forward(ids)));
    }

    [Fact]
    public void ALinearRouterIsResetDeterministicallyPerSeed()
    {
        var moeDirectory = SaveMoe("moe", RouterKind.Linear, ["law", "poems"], seed: 13);
        var denseDirectory = SaveDense("code", 14);
        string Extend(string name, long seed, float[]? embedding = null)
        {
            var output = Path.Combine(temp.Path, name);
            ExpertSurgery.Extend(moeDirectory, new UpcycleExpert("code", denseDirectory, embedding), output, seed);
            return output;
        }
        var one = Extend("one", 5);
        var two = Extend("two", 5, Embedding(1)); // a linear router takes no domain embedding; one given is not used
        var other = Extend("other", 6);

        using var moe = SafetensorsCheckpoint.Open(moeDirectory);
        using var first = SafetensorsCheckpoint.Open(one);
        using var second = SafetensorsCheckpoint.Open(two);
        using var third = SafetensorsCheckpoint.Open(other);
        for (var layer = 0; layer < Tiny.NumHiddenLayers; layer++)
        {
            var name = $"model.layers.{layer}.mlp.router.weight";
            Assert.Equal(new long[] { 3, Tiny.HiddenSize }, first.Entry(name).Shape);
            Assert.True(SameBytes(first, name, second, name), "same seed, different router");
            Assert.False(SameBytes(first, name, third, name), "different seeds, same router");
            var reset = Floats(first, name);
            var old = Floats(moe, name);
            Assert.NotEqual(old, reset.Take(old.Length)); // the old rows are reset too, not kept
            Assert.InRange(Math.Sqrt(reset.Average(v => (double)v * v)), 0.01, 0.04);
            Assert.False(first.Contains($"model.layers.{layer}.mlp.router.domain_embeddings"));
        }
        Assert.Equal(["law", "poems", "code"], Config(one).ExpertNames);
    }

    // ---- removal ---------------------------------------------------------------------------------

    [Theory]
    [InlineData(RouterKind.Nexus)]
    [InlineData(RouterKind.Linear)]
    public void RemovalDropsTheExpertAndItsRouterRowAndRenumbersTheRest(RouterKind kind)
    {
        var moeDirectory = SaveMoe("moe", kind, ["law", "poems", "news", "code"], seed: 15);
        var output = Path.Combine(temp.Path, "removed");

        var config = ExpertSurgery.Remove(moeDirectory, "poems", output);

        Assert.Equal(["law", "news", "code"], config.ExpertNames);
        var before = Config(moeDirectory);
        Assert.Equal(before.ToJson(), (Config(output) with { ExpertNames = before.ExpertNames }).ToJson());
        using var moe = SafetensorsCheckpoint.Open(moeDirectory);
        using var removed = SafetensorsCheckpoint.Open(output);
        Assert.Equal(config.TensorShapes().Select(t => t.Name).Order(), removed.Names.Order());
        int[] oldIndexOf = [0, 2, 3];
        foreach (var name in removed.Names)
        {
            var match = System.Text.RegularExpressions.Regex.Match(name, @"^(.*\.experts\.)(\d+)(\..*)$");
            if (match.Success)
            {
                var source = $"{match.Groups[1].Value}{oldIndexOf[int.Parse(match.Groups[2].Value)]}{match.Groups[3].Value}";
                Assert.True(SameBytes(removed, name, moe, source), $"{name} is not a copy of {source}");
            }
            else if (name.EndsWith("router.domain_embeddings", StringComparison.Ordinal) || name.EndsWith("router.weight", StringComparison.Ordinal))
            {
                var width = (int)moe.Entry(name).Shape[1];
                var rows = Floats(moe, name);
                Assert.Equal(oldIndexOf.SelectMany(i => rows.Skip(i * width).Take(width)), Floats(removed, name));
                Assert.Equal(new long[] { 3, width }, removed.Entry(name).Shape);
            }
            else
            {
                Assert.True(SameBytes(removed, name, moe, name), $"{name} changed");
            }
        }
    }

    [Theory]
    [InlineData(RouterKind.Nexus)]
    [InlineData(RouterKind.Linear)]
    public void RemovalKeepsTheRemainingExpertsLogitsAndChoices(RouterKind kind)
    {
        var moeDirectory = SaveMoe("moe", kind, ["law", "poems", "news", "code"], seed: 16);
        var output = Path.Combine(temp.Path, "removed");
        ExpertSurgery.Remove(moeDirectory, "news", output);

        using var before = LoadModel(moeDirectory);
        using var after = LoadModel(output);
        using var moe = SafetensorsCheckpoint.Open(moeDirectory);
        using var noGrad = no_grad();
        var generator = new Generator(17);
        long kept = 0;
        for (var layer = 0; layer < Tiny.NumHiddenLayers; layer++)
        {
            using var scope = NewDisposeScope();
            var tokens = randn([256, Tiny.HiddenSize], generator: generator);
            var shared = Ffn(moe, $"model.layers.{layer}.mlp.shared_expert.", tokens);
            kept += AssertSurgeryRelation(before.Decoder.Layers[layer].Moe, after.Decoder.Layers[layer].Moe, [0, 1, 3], tokens, shared).Kept;
        }
        Assert.InRange(kept, 1, 2 * 256 - 1); // some tokens went to the removed expert, most did not
    }

    [Fact]
    public void ExtendThenRemoveGivesBackTheExpertsAndRouterWithTheMergeLeftInPlace()
    {
        var moeDirectory = SaveMoe("moe", RouterKind.Nexus, ["law", "poems"], seed: 18);
        var denseDirectory = SaveDense("code", 19);
        var extendedDirectory = Path.Combine(temp.Path, "extended");
        var restoredDirectory = Path.Combine(temp.Path, "restored");
        ExpertSurgery.Extend(moeDirectory, new UpcycleExpert("code", denseDirectory, Embedding(20)), extendedDirectory);
        var config = ExpertSurgery.Remove(extendedDirectory, "code", restoredDirectory);

        Assert.Equal(Config(moeDirectory).ToJson(), config.ToJson());
        const double lambda = 1.0 / 3;
        using var moe = SafetensorsCheckpoint.Open(moeDirectory);
        using var dense = SafetensorsCheckpoint.Open(denseDirectory);
        using var restored = SafetensorsCheckpoint.Open(restoredDirectory);
        Assert.Equal(moe.Names.Order(), restored.Names.Order());
        foreach (var name in moe.Names)
        {
            if (name.Contains(".mlp.", StringComparison.Ordinal))
            {
                Assert.True(SameBytes(restored, name, moe, name), $"{name} did not come back bit for bit");
                continue;
            }
            var (old, added, back) = (Floats(moe, name), Floats(dense, name), Floats(restored, name));
            for (var i = 0; i < back.Length; i++)
                Assert.True(Math.Abs(back[i] - old[i] - lambda * (added[i] - old[i])) < 1e-6, $"{name}[{i}]: the difference is not λ·(φ_new − φ_moe)");
        }
    }

    [Fact]
    public void TheOutputKeepsTheMoesDtypesAndABf16ExpertWidensExactly()
    {
        var moeDirectory = SaveMoe("moe", RouterKind.Nexus, ["law"], seed: 28);
        var denseDirectory = Path.Combine(temp.Path, "code-bf16");
        using (var model = new LlamaForCausalLM(Tiny))
        {
            Randomize(model, 29);
            ModelCheckpoint.Save(model, denseDirectory, TokenizerFiles.SaveByte, SafetensorsDtype.BF16);
        }
        var output = Path.Combine(temp.Path, "extended");
        ExpertSurgery.Extend(moeDirectory, new UpcycleExpert("code", denseDirectory, Embedding(30)), output);

        using var dense = SafetensorsCheckpoint.Open(denseDirectory);
        using var extended = SafetensorsCheckpoint.Open(output);
        Assert.All(extended.Names, name => Assert.Equal(SafetensorsDtype.F32, extended.Entry(name).Dtype));
        foreach (var proj in Projections)
            Assert.Equal(Floats(dense, $"model.layers.1.mlp.{proj}.weight"), Floats(extended, $"model.layers.1.mlp.experts.1.{proj}.weight"));
    }

    [Fact]
    public void SurgeryCanRewriteAModelFolderInPlace()
    {
        var moeDirectory = SaveMoe("moe", RouterKind.Linear, ["law", "poems"], seed: 26);
        ExpertSurgery.Extend(moeDirectory, new UpcycleExpert("code", SaveDense("code", 27), null), moeDirectory);
        ExpertSurgery.Remove(moeDirectory, "law", moeDirectory);

        Assert.Equal(["poems", "code"], Config(moeDirectory).ExpertNames);
        using var model = LoadModel(moeDirectory);
        Assert.DoesNotContain(Directory.GetDirectories(temp.Path), d => Path.GetFileName(d).StartsWith(".moe", StringComparison.Ordinal));
    }

    // ---- bad input -------------------------------------------------------------------------------

    [Fact]
    public void BadInputsFailClearlyAndWriteNothing()
    {
        var moe = SaveMoe("moe", RouterKind.Nexus, ["law", "poems"], seed: 21);
        var code = SaveDense("code", 22);
        var wide = SaveDense("wide", 23, Tiny with { IntermediateSize = 200 });
        var output = Path.Combine(temp.Path, "out");
        Exception Extend(UpcycleExpert expert, string? model = null) =>
            Record.Exception(() => ExpertSurgery.Extend(model ?? moe, expert, output))!;

        var mismatch = Assert.IsType<InvalidDataException>(Extend(new UpcycleExpert("wide", wide, Embedding(1))));
        Assert.Contains("does not share the MoE's architecture", mismatch.Message);
        Assert.Contains("intermediate 200", mismatch.Message);
        Assert.Contains("intermediate 176", mismatch.Message);
        Assert.Contains("Domain embedding of 'code' has width 5; this model's router expects 6",
            Assert.IsType<ArgumentException>(Extend(new UpcycleExpert("code", code, Embedding(1, width: 5)))).Message);
        Assert.Contains("run `nexus embed`", Assert.IsType<ArgumentException>(Extend(new UpcycleExpert("code", code, null))).Message);
        var duplicate = Assert.IsType<ArgumentException>(Extend(new UpcycleExpert("poems", code, Embedding(1)))).Message;
        Assert.Contains("already has an expert named 'poems'", duplicate);
        Assert.Contains("model_type is 'llama'", Assert.IsType<InvalidModelConfigException>(Extend(new UpcycleExpert("x", code, Embedding(1)), model: code)).Message);
        Assert.Contains("does not exist", Assert.IsType<DirectoryNotFoundException>(Extend(new UpcycleExpert("x", Path.Combine(temp.Path, "nowhere"), Embedding(1)))).Message);

        var unknown = Assert.Throws<ArgumentException>(() => ExpertSurgery.Remove(moe, "code", output)).Message;
        Assert.Contains("no expert named 'code'", unknown);
        Assert.Contains("law, poems", unknown);
        var single = SaveMoe("single", RouterKind.Nexus, ["law"], seed: 24);
        Assert.Contains("only expert", Assert.Throws<ArgumentException>(() => ExpertSurgery.Remove(single, "law", output)).Message);
        var topTwo = SaveMoe("top2", RouterKind.Linear, ["law", "poems"], seed: 25, topK: 2);
        var topK = Assert.Throws<ArgumentException>(() => ExpertSurgery.Remove(topTwo, "law", output)).Message;
        Assert.Contains("routes each token to 2 experts", topK);
        Assert.Contains("--top-k", topK);
        Assert.Contains("model_type is 'llama'", Assert.Throws<InvalidModelConfigException>(() => ExpertSurgery.Remove(code, "law", output)).Message);

        Assert.False(Directory.Exists(output));
        Assert.DoesNotContain(Directory.GetDirectories(temp.Path), d => Path.GetFileName(d).Contains("out", StringComparison.Ordinal)); // no staging left

        // With a top-k the remaining experts can serve, the same removal goes through.
        Assert.Equal(1, ExpertSurgery.Remove(topTwo, "law", output, topK: 1).NumExpertsPerToken);
    }
}
