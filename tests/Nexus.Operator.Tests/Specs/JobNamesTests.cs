using Nexus.Operator.Specs;
using static Nexus.Operator.Tests.Specs.SpecFixtures;

namespace Nexus.Operator.Tests.Specs;

public class JobNamesTests
{
    [Fact]
    public void Names_SayOwnerStepAndGenerationOrRevision()
    {
        Assert.Equal("news-train-g3", JobNames.ForExpert(NewsExpert(), StepKind.Train));
        Assert.Equal("news-embed-g3", JobNames.ForExpert(NewsExpert(), StepKind.Embed));
        Assert.Equal("law-import-g2", JobNames.ForExpert(ImportedLawExpert(), StepKind.Import));
        Assert.Equal("demo-upcycle-r1", JobNames.ForModel(DemoModel(), StepKind.Upcycle, 1));
        Assert.Equal("demo-finetune-r1", JobNames.ForModel(DemoModel(), StepKind.Finetune, 1));
        Assert.Equal("demo-evaluate-r12", JobNames.ForModel(DemoModel(), StepKind.Evaluate, 12));
        Assert.Equal("demo-add-code-extend-code-r2", JobNames.ForExtension(AddCode(), StepKind.Extend, 2, "code"));
        Assert.Equal("demo-add-code-remove-news-r2", JobNames.ForExtension(AddCode(), StepKind.Remove, 2, "news"));
        Assert.Equal("demo-add-code-evaluate-r2", JobNames.ForExtension(AddCode(), StepKind.Evaluate, 2));
    }

    [Fact]
    public void AStepTheOwnerDoesNotRun_IsRefused()
    {
        Assert.Throws<ArgumentException>(() => JobNames.ForExpert(NewsExpert(), StepKind.Upcycle));
        Assert.Throws<ArgumentException>(() => JobNames.ForModel(DemoModel(), StepKind.Train, 1));
        Assert.Throws<ArgumentException>(() => JobNames.ForExtension(AddCode(), StepKind.Extend, 2));
        Assert.Throws<ArgumentException>(() => JobNames.ForExtension(AddCode(), StepKind.Evaluate, 2, "code"));
        Assert.Throws<ArgumentOutOfRangeException>(() => JobNames.ForModel(DemoModel(), StepKind.Upcycle, 0));
    }

    [Fact]
    public void ALongName_IsCutToALabel_KeepingTheStep_WithAHashOfTheWholeName()
    {
        var model = DemoModel();
        model.Metadata.Name = "a-model-whose-name-is-far-too-long-for-a-job-label-once-the-step-is-appended";

        var name = JobNames.ForModel(model, StepKind.Finetune, 7);

        Assert.Equal(63, name.Length);
        Assert.True(KubernetesNames.IsDns1123Label(name), name);
        var hash = KubernetesNames.ShortHash($"{model.Metadata.Name}-finetune-r7");
        Assert.EndsWith($"-{hash}-finetune-r7", name, StringComparison.Ordinal);
        Assert.StartsWith("a-model-whose-name-is-far-too-long", name, StringComparison.Ordinal);
        Assert.Equal(name, JobNames.ForModel(model, StepKind.Finetune, 7));
    }

    [Fact]
    public void LongNamesSharingAPrefix_DoNotCollide()
    {
        var first = DemoModel();
        var second = DemoModel();
        first.Metadata.Name = new string('a', 80) + "-one";
        second.Metadata.Name = new string('a', 80) + "-two";

        Assert.NotEqual(JobNames.ForModel(first, StepKind.Upcycle, 1), JobNames.ForModel(second, StepKind.Upcycle, 1));
    }

    [Fact]
    public void ANameWithDots_BecomesALabel_WithAHash_SoItCannotCollideWithItsDashedTwin()
    {
        var dotted = NewsExpert();
        var dashed = NewsExpert();
        dotted.Metadata.Name = "news.v2";
        dashed.Metadata.Name = "news-v2";

        var fromDotted = JobNames.ForExpert(dotted, StepKind.Train);

        Assert.True(KubernetesNames.IsDns1123Label(fromDotted), fromDotted);
        Assert.Matches("^news-v2-[0-9a-f]{8}-train-g3$", fromDotted);
        Assert.Equal("news-v2-train-g3", JobNames.ForExpert(dashed, StepKind.Train));
    }

    [Fact]
    public void ALongDomain_StillGivesALabel()
    {
        var name = JobNames.ForExtension(AddCode(), StepKind.Extend, 2, new string('d', 63));

        Assert.True(KubernetesNames.IsDns1123Label(name), name);
        Assert.Equal(name, JobNames.ForExtension(AddCode(), StepKind.Extend, 2, new string('d', 63)));
    }
}
