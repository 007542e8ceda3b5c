using k8s.Models;
using Nexus.Operator.Runtime;
using Nexus.Operator.Tests.Support;

namespace Nexus.Operator.Tests.Runtime;

public class OwnerReferencesTests
{
    private static Widget Owner(string uid = "uid-1")
    {
        var owner = Widget.Create("model");
        owner.Metadata.Uid = uid;
        return owner;
    }

    [Fact]
    public void ControllerReference_NamesTheOwnerAndBlocksItsDeletion()
    {
        var reference = OwnerReferences.ControllerReference(Owner());

        Assert.Equal("test.nexus.moe/v1", reference.ApiVersion);
        Assert.Equal("Widget", reference.Kind);
        Assert.Equal("model", reference.Name);
        Assert.Equal("uid-1", reference.Uid);
        Assert.True(reference.Controller);
        Assert.True(reference.BlockOwnerDeletion);
    }

    [Fact]
    public void ControllerReference_FallsBackToTheTypesEntityAttribute_WhenApiVersionAndKindAreMissing()
    {
        var owner = Owner();
        owner.ApiVersion = null!;
        owner.Kind = null!;
        var job = new V1Job { Metadata = new V1ObjectMeta { Name = "train", Uid = "job-uid" } };

        Assert.Equal(("test.nexus.moe/v1", "Widget"), (OwnerReferences.ControllerReference(owner).ApiVersion, OwnerReferences.ControllerReference(owner).Kind));
        Assert.Equal(("batch/v1", "Job"), (OwnerReferences.ControllerReference(job).ApiVersion, OwnerReferences.ControllerReference(job).Kind));
    }

    [Fact]
    public void ControllerReference_NeedsAUid()
    {
        Assert.Throws<ArgumentException>(() => OwnerReferences.ControllerReference(Widget.Create("unsaved")));
    }

    [Fact]
    public void SetController_IsIdempotent_AndRefusesASecondController()
    {
        var child = new V1Job { Metadata = new V1ObjectMeta { Name = "train" } };
        var owner = Owner();

        OwnerReferences.SetController(child, owner);
        OwnerReferences.SetController(child, owner);

        Assert.Single(child.Metadata.OwnerReferences);
        Assert.True(OwnerReferences.IsControlledBy(child, owner));
        Assert.False(OwnerReferences.IsControlledBy(child, Owner("uid-2")));
        Assert.Throws<InvalidOperationException>(() => OwnerReferences.SetController(child, Owner("uid-2")));
    }
}
