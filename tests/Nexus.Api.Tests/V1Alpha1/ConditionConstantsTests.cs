using System.Reflection;
using Nexus.Api.Tests.Crds;
using Nexus.Api.V1Alpha1;

namespace Nexus.Api.Tests.V1Alpha1;

public class ConditionConstantsTests
{
    private static IReadOnlyList<string> Constants(Type type) =>
        type.GetFields(BindingFlags.Public | BindingFlags.Static).Where(f => f.IsLiteral).Select(f => (string)f.GetRawConstantValue()!).ToList();

    /// <summary>The API server rejects a status whose condition type or reason breaks metav1.Condition's patterns.</summary>
    [Fact]
    public void TypesAndReasonsFitTheConditionSchema()
    {
        var conditions = Nexus.Api.Crds.CrdGenerator.Generate()[0].Definition.Spec.Versions.Single().Schema.OpenAPIV3Schema;
        var typeSchema = SchemaNodes.Find(conditions, ".status.conditions[].type")!;
        var reasonSchema = SchemaNodes.Find(conditions, ".status.conditions[].reason")!;

        var types = Constants(typeof(ConditionTypes));
        var reasons = Constants(typeof(Reasons));

        Assert.Superset(new HashSet<string> { "Ready", "Reconciling", "Stalled" }, types.ToHashSet());
        Assert.All(types, type => Assert.Matches(typeSchema.Pattern, type));
        Assert.All(reasons, reason => Assert.Matches(reasonSchema.Pattern, reason));
        Assert.All(reasons, reason => Assert.Matches("^[A-Z][A-Za-z]+$", reason));
        Assert.Equal(reasons.Count, reasons.Distinct().Count());
        Assert.Equal(types.Count, types.Distinct().Count());
    }

    [Fact]
    public void ThePhasesAreTheOnesThePrinterColumnShows()
    {
        Assert.Equal(["Pending", "Training", "Importing", "Embedding", "Ready", "Failed"], Enum.GetNames<ExpertPhase>());
        Assert.Equal(["Pending", "Upcycling", "Finetuning", "Extending", "RollingOut", "Ready", "Failed"], Enum.GetNames<NexusModelPhase>());
        Assert.Equal(["Pending", "Running", "Succeeded", "Failed"], Enum.GetNames<ExtensionPhase>());
    }
}
