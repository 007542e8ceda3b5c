using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Nexus.Training.Tests;

public class AdamWTests
{
    private static (Parameter A, Parameter B) Parameters(long seed)
    {
        var generator = new Generator((ulong)seed);
        return (new Parameter(randn([4, 3], generator: generator)), new Parameter(randn([5], generator: generator)));
    }

    private static void SetGradients(Parameter a, Parameter b, int step)
    {
        var generator = new Generator((ulong)(100 + step));
        a.grad = randn([4, 3], generator: generator);
        b.grad = randn([5], generator: generator);
    }

    [Fact]
    public void MatchesLibTorchsAdamWStepByStep()
    {
        var (ours1, ours2) = Parameters(1);
        var (ref1, ref2) = Parameters(1);
        using var optimizer = new AdamW([("a", ours1, true), ("b", ours2, false)], 0.9, 0.95, 1e-8, weightDecay: 0.1);
        using var reference = optim.AdamW(
        [
            new TorchSharp.Modules.AdamW.ParamGroup([ref1], 0.01, 0.9, 0.95, 1e-8, 0.1, false, false),
            new TorchSharp.Modules.AdamW.ParamGroup([ref2], 0.01, 0.9, 0.95, 1e-8, 0.0, false, false),
        ], 0.01);
        for (var step = 0; step < 6; step++)
        {
            var lr = 0.01 * (step + 1) / 6;
            foreach (var group in reference.ParamGroups) group.LearningRate = lr;
            SetGradients(ours1, ours2, step);
            SetGradients(ref1, ref2, step);
            optimizer.Step(lr);
            reference.step();
        }
        Assert.Equal(6, optimizer.StepCount);
        Assert.True(ours1.allclose(ref1, rtol: 1e-6, atol: 1e-7));
        Assert.True(ours2.allclose(ref2, rtol: 1e-6, atol: 1e-7));
    }

    [Fact]
    public void ClipsToTheGlobalNormLikeLibTorch()
    {
        var (a, b) = Parameters(2);
        var (ra, rb) = Parameters(2);
        SetGradients(a, b, 0);
        SetGradients(ra, rb, 0);
        using var optimizer = new AdamW([("a", a, true), ("b", b, true)]);
        var norm = optimizer.ClipGradientNorm(0.5);
        var referenceNorm = nn.utils.clip_grad_norm_([ra, rb], 0.5);
        Assert.Equal(referenceNorm, norm, 5);
        Assert.True(a.grad!.allclose(ra.grad!, rtol: 1e-5, atol: 1e-6));
        Assert.Equal(0.5, Math.Sqrt(Math.Pow(a.grad!.norm().item<float>(), 2) + Math.Pow(b.grad!.norm().item<float>(), 2)), 4);
    }

    [Fact]
    public void StateRoundTripsThroughSafetensors()
    {
        using var temp = new TempDirectory();
        var (a, b) = Parameters(3);
        using var optimizer = new AdamW([("a", a, true), ("b", b, false)]);
        for (var step = 0; step < 3; step++)
        {
            SetGradients(a, b, step);
            optimizer.Step(0.01);
        }
        var path = Path.Combine(temp.Path, "optimizer.safetensors");
        optimizer.Save(path);

        var (a2, b2) = (new Parameter(a.detach().clone()), new Parameter(b.detach().clone()));
        using var restored = new AdamW([("a", a2, true), ("b", b2, false)]);
        restored.Load(path);
        Assert.Equal(3, restored.StepCount);
        SetGradients(a, b, 3);
        SetGradients(a2, b2, 3);
        optimizer.Step(0.01);
        restored.Step(0.01);
        Assert.True(a.allclose(a2, rtol: 0, atol: 0) && b.allclose(b2, rtol: 0, atol: 0));
    }

    [Fact]
    public void StateOfAnotherModelIsRefused()
    {
        using var temp = new TempDirectory();
        var (a, b) = Parameters(4);
        using var optimizer = new AdamW([("a", a, true), ("b", b, false)]);
        var path = Path.Combine(temp.Path, "optimizer.safetensors");
        optimizer.Save(path);
        using var other = new AdamW([("c", new Parameter(zeros(2)), true)]);
        var error = Assert.Throws<InvalidDataException>(() => other.Load(path));
        Assert.Contains("c.exp_avg", error.Message);
    }
}
