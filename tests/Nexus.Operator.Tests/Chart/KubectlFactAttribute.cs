namespace Nexus.Operator.Tests.Chart;

/// <summary>A fact that runs only where <c>kubectl</c> is on PATH (CI's machine has it); elsewhere it is reported as
/// skipped with the reason (xunit 2 has no runtime skip; the attribute decides at discovery).</summary>
internal sealed class KubectlFactAttribute : FactAttribute
{
    public KubectlFactAttribute()
    {
        if (Kubectl.Path is null)
        {
            Skip = "kubectl is not on PATH: `kubectl kustomize config/default` cannot be checked here (install kubectl to run it).";
        }
    }
}

/// <summary>Where kubectl is.</summary>
internal static class Kubectl
{
    public static string? Path { get; } = (Environment.GetEnvironmentVariable("PATH") ?? "")
        .Split(System.IO.Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
        .Select(folder => System.IO.Path.Combine(folder, "kubectl"))
        .FirstOrDefault(File.Exists);
}
