using Nexus.Api.Crds;

namespace Nexus.Api.Tests.Crds;

public class CrdsAreUpToDateTests
{
    private const string UpdateVariable = "NEXUS_UPDATE_CRDS";

    /// <summary>
    /// crds/ must be what the types generate. With NEXUS_UPDATE_CRDS=1 the test rewrites crds/ instead (as
    /// `make crds` does), and stale files of kinds that no longer exist are removed.
    /// </summary>
    [Fact]
    public void CrdsAreUpToDate()
    {
        var directory = RepositoryRoot.Combine("crds");
        var generated = CrdGenerator.Generate();
        if (Environment.GetEnvironmentVariable(UpdateVariable) == "1")
        {
            foreach (var file in Directory.Exists(directory) ? Directory.GetFiles(directory, "nexus.moe_*.yaml") : [])
            {
                if (generated.All(crd => crd.FileName != Path.GetFileName(file)))
                    File.Delete(file);
            }
            CrdGenerator.WriteAll(directory);
        }

        var stale = new List<string>();
        foreach (var crd in generated)
        {
            var path = Path.Combine(directory, crd.FileName);
            if (!File.Exists(path) || File.ReadAllText(path) != crd.Yaml)
                stale.Add(crd.FileName);
        }
        var extra = Directory.Exists(directory)
            ? Directory.GetFiles(directory, "nexus.moe_*.yaml").Select(Path.GetFileName)
                .Where(name => generated.All(crd => crd.FileName != name)).ToList()
            : [];
        Assert.True(stale.Count == 0 && extra.Count == 0,
            $"crds/ is stale: run `make crds` (or NEXUS_UPDATE_CRDS=1 dotnet test tests/Nexus.Api.Tests). " +
            $"Differs: [{string.Join(", ", stale)}]; not generated any more: [{string.Join(", ", extra)}].");
    }
}
