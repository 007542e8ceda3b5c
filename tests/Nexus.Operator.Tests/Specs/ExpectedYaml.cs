using k8s;

namespace Nexus.Operator.Tests.Specs;

/// <summary>
/// Compares an object's YAML with a file in Specs/expected/, the reviewed specification of what the operator creates.
/// With NEXUS_UPDATE_EXPECTED=1 the test rewrites the file instead; review the diff before committing it.
/// </summary>
internal static class ExpectedYaml
{
    public const string UpdateVariable = "NEXUS_UPDATE_EXPECTED";

    public static string Folder { get; } = Path.Combine(RepositoryRoot.Path, "tests", "Nexus.Operator.Tests", "Specs", "expected");

    public static string Serialize(object value) => KubernetesYaml.Serialize(value).ReplaceLineEndings("\n");

    public static void Matches(string fileName, object value)
    {
        var actual = Serialize(value) + "\n";
        var path = Path.Combine(Folder, fileName);
        if (Environment.GetEnvironmentVariable(UpdateVariable) == "1")
        {
            File.WriteAllText(path, actual);
            return;
        }

        Assert.True(File.Exists(path), $"{path} is missing; run the test with {UpdateVariable}=1 to write it, then review it.");
        var expected = File.ReadAllText(path).ReplaceLineEndings("\n");
        if (expected == actual)
        {
            return;
        }

        var expectedLines = expected.Split('\n');
        var actualLines = actual.Split('\n');
        var line = Enumerable.Range(0, Math.Max(expectedLines.Length, actualLines.Length))
            .First(index => index >= expectedLines.Length || index >= actualLines.Length || expectedLines[index] != actualLines[index]);
        Assert.Fail(
            $"{fileName} differs at line {line + 1}:\n  expected: {At(expectedLines, line)}\n  actual:   {At(actualLines, line)}\n" +
            $"If the change is intended, run with {UpdateVariable}=1 and review the diff.\n--- actual ---\n{actual}");
    }

    private static string At(string[] lines, int index) => index < lines.Length ? lines[index] : "<end of file>";

}
