namespace Nexus.Model;
public static class TorchProbe { public static string Describe() { using var t = TorchSharp.torch.ones(2, 2); return $"{TorchSharp.torch.__version__} sum={t.sum().item<float>()}"; } }
