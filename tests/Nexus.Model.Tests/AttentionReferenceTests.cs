using Nexus.Model;
using static TorchSharp.torch;

namespace Nexus.Model.Tests;

/// <summary>Rotary embeddings and grouped-query attention against direct loop-by-loop computations.</summary>
public class AttentionReferenceTests
{
    private const double Theta = 10000.0;

    /// <summary>Position p rotates the pair (i, i + D/2) by p · θ^(−2i/D), as in HF's rotate-half layout.</summary>
    private static float[] RotateReference(float[] x, int position, int headDim)
    {
        var rotated = new float[headDim];
        var half = headDim / 2;
        for (var i = 0; i < half; i++)
        {
            var angle = position * Math.Pow(Theta, -2.0 * i / headDim);
            double a = x[i], b = x[i + half];
            rotated[i] = (float)(a * Math.Cos(angle) - b * Math.Sin(angle));
            rotated[i + half] = (float)(b * Math.Cos(angle) + a * Math.Sin(angle));
        }
        return rotated;
    }

    [Fact]
    public void RotaryEmbeddingMatchesPairwiseRotation()
    {
        const int headDim = 8, length = 6, start = 3;
        using var table = new RotaryTable(headDim, 32, Theta);
        var x = randn([1, 2, length, headDim], generator: new Generator(11));
        var actual = table.Apply(x, start);
        for (var h = 0; h < 2; h++)
        for (var t = 0; t < length; t++)
        {
            var expected = RotateReference(x[0, h, t].data<float>().ToArray(), start + t, headDim);
            var got = actual[0, h, t].data<float>().ToArray();
            for (var d = 0; d < headDim; d++) Assert.Equal(expected[d], got[d], 1e-5f);
        }
    }

    [Fact]
    public void RotaryScoresDependOnlyOnRelativePosition()
    {
        using var table = new RotaryTable(16, 64, Theta);
        var q = randn([1, 1, 1, 16], generator: new Generator(12));
        var k = randn([1, 1, 1, 16], generator: new Generator(13));
        float Score(int m, int n) => (table.Apply(q, m) * table.Apply(k, n)).sum().item<float>();
        Assert.Equal(Score(5, 2), Score(20, 17), 1e-4f);
        Assert.Equal(Score(9, 9), Score(0, 0), 1e-4f);
    }

    [Theory]
    [InlineData(4, 2)]
    [InlineData(4, 1)]
    [InlineData(4, 4)]
    public void GroupedQueryAttentionMatchesDirectComputation(int heads, int kvHeads)
    {
        const int hidden = 16, length = 5;
        var config = new LlamaConfig
        {
            HiddenSize = hidden, NumAttentionHeads = heads, NumKeyValueHeads = kvHeads, IntermediateSize = 8,
            NumHiddenLayers = 1, MaxPositionEmbeddings = 16, VocabSize = 10,
        };
        var headDim = config.HeadDim;
        using var attention = new LlamaAttention(config);
        using var table = new RotaryTable(headDim, 16, Theta);
        var weights = attention.named_parameters().ToDictionary(p => p.name, p => p.parameter.data<float>().ToArray());
        var x = randn([1, length, hidden], generator: new Generator(21));
        var xs = x.data<float>().ToArray();

        foreach (var sdpa in new[] { true, false })
        {
            attention.UseSdpa = sdpa;
            using var noGrad = no_grad();
            var actual = attention.Forward(x, table, cache: null, past: 0).data<float>().ToArray();

            float[] Project(string name, int rows, int t)
            {
                var w = weights[name];
                var result = new float[rows];
                for (var r = 0; r < rows; r++)
                for (var c = 0; c < hidden; c++) result[r] += w[r * hidden + c] * xs[t * hidden + c];
                return result;
            }
            float[] Head(float[] all, int head, int position, bool rotate)
            {
                var slice = all.Skip(head * headDim).Take(headDim).ToArray();
                return rotate ? RotateReference(slice, position, headDim) : slice;
            }

            var q = Enumerable.Range(0, length).Select(t => Project("q_proj.weight", heads * headDim, t)).ToArray();
            var k = Enumerable.Range(0, length).Select(t => Project("k_proj.weight", kvHeads * headDim, t)).ToArray();
            var v = Enumerable.Range(0, length).Select(t => Project("v_proj.weight", kvHeads * headDim, t)).ToArray();
            var oProj = weights["o_proj.weight"];
            for (var t = 0; t < length; t++)
            {
                var concatenated = new float[heads * headDim];
                for (var h = 0; h < heads; h++)
                {
                    var group = h / (heads / kvHeads);  // query head h reads key/value head h / (H/K)
                    var qh = Head(q[t], h, t, rotate: true);
                    var scores = Enumerable.Range(0, t + 1)
                        .Select(s => qh.Zip(Head(k[s], group, s, rotate: true), (a, b) => (double)a * b).Sum() / Math.Sqrt(headDim))
                        .ToArray();
                    var max = scores.Max();
                    var exp = scores.Select(s => Math.Exp(s - max)).ToArray();
                    var total = exp.Sum();
                    for (var s = 0; s <= t; s++)
                    {
                        var vs = Head(v[s], group, s, rotate: false);
                        for (var d = 0; d < headDim; d++) concatenated[h * headDim + d] += (float)(exp[s] / total * vs[d]);
                    }
                }
                for (var o = 0; o < hidden; o++)
                {
                    var expected = 0.0;
                    for (var c = 0; c < heads * headDim; c++) expected += oProj[o * heads * headDim + c] * concatenated[c];
                    Assert.Equal((float)expected, actual[t * hidden + o], 1e-4f);
                }
            }
        }
    }

    [Fact]
    public void RmsNormMatchesDefinition()
    {
        using var norm = new RmsNorm(6, 1e-5);
        var x = randn([2, 6], generator: new Generator(31)) * 3;
        var actual = norm.call(x).data<float>().ToArray();
        var xs = x.data<float>().ToArray();
        for (var r = 0; r < 2; r++)
        {
            var meanSquare = Enumerable.Range(0, 6).Average(c => (double)xs[r * 6 + c] * xs[r * 6 + c]);
            for (var c = 0; c < 6; c++) Assert.Equal((float)(xs[r * 6 + c] / Math.Sqrt(meanSquare + 1e-5)), actual[r * 6 + c], 1e-5f);
        }
    }
}
