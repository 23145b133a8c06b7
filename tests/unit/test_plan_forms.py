"""Reading PostfixAdmin's HTML forms (snippets as PFA 3.3.13 renders them)."""

from __future__ import annotations

from mailmove.postfixadmin import FormError, Rejected, is_side_effect
from mailmove.postfixadmin._forms import parse_form, parse_page

ALIAS_EDIT = """
<div class="alert alert-danger"><ul class="flash-error"><li>The mailbox postcreate script failed, check the error log for details!</li></ul></div>
<form name="edit_alias" method="post" action="" class="form-horizontal">
 <input class="flat" type="hidden" name="table" value="alias"/>
 <input class="flat" type="hidden" name="token" value="2b83cd3795348d8502c3c5836585e03a"/>
 <div class="form-group "><label for="goto">To</label><div class="col-md-6">
   <textarea class="form-control" rows="10" cols="35" name="value[goto]">a@x.example&#10;b@y.example</textarea>
   <span class="help-block">Accepts multiple targets, one entry per line.</span></div></div>
 <div class="form-group "><label for="goto_mailbox">Deliver to the local mailbox.</label>
   <div class="col-md-6"><div class="checkbox"><label>
   <input type="checkbox" value='1' name="value[goto_mailbox]"/></label></div></div></div>
 <div class="form-group "><label for="active">Active</label><div class="col-md-6">
   <div class="checkbox"><label><input type="checkbox" value='1' name="value[active]" checked="checked"/>
   </label></div></div></div>
 <div class="form-group "><label for="domain"></label><div class="col-md-6">
   <select class="form-control" name="value[domain]" id="domain">
   <option value="a.test">a.test</option><option value="b.test" selected="selected">b.test</option>
   </select></div></div>
 <input class="form-control" type="password" name="value[password]" autocomplete="new-password"/>
 <input class="btn btn-primary" type="submit" name="submit" value="Save changes"/>
</form>
<form name="other"><input name="value[ignored]" value="x"/></form>
"""  # noqa: E501  (PFA's HTML as rendered)

REFUSED = """
<div class="alert alert-danger"><ul class="flash-error"><li>This email address already exists, please choose a different one!</li></ul></div>
<div class="alert alert-info"><ul class="flash-info"><li>The mailbox old@web.test has been added to the mailbox table.</li></ul></div>
<form name="edit_mailbox">
<div class="form-group has-error">
  <label class="col-md-4 col-sm-4 control-label" for="password">Password</label>
  <div class="col-md-6 col-sm-8">
    <input class="form-control" type="password" name="value[password]" autocomplete="new-password"/>
    <span class="help-block">Password is too short - requires 5 characters</span>
  </div>
</div>
<div class="form-group ">
  <label for="name">Name</label>
  <div class="col-md-6"><input class="form-control" type="text" name="value[name]" value=""/>
  <span class="help-block">Full name</span></div>
</div>
</form>
"""  # noqa: E501


def test_whole_form_is_read_back_for_a_complete_update() -> None:
    form = parse_form(ALIAS_EDIT)

    assert form is not None
    assert form.text("goto") == "a@x.example\nb@y.example"
    assert form.checkboxes == {"goto_mailbox", "active"}
    assert form.checked("active")
    assert not form.checked("goto_mailbox")
    assert form.values["domain"] == "b.test"
    assert "password" not in form.values  # never echoed, and empty means "keep"
    assert "ignored" not in form.values  # only the first form
    data = form.post_data({"goto": "c@z.example", "goto_mailbox": True})
    assert data == {
        "value[goto]": "c@z.example",
        "value[active]": "1",
        "value[domain]": "b.test",
        "value[goto_mailbox]": "1",
    }
    assert "value[active]" not in form.post_data({"active": False})  # unticked = left out


def test_field_errors_flash_errors_and_side_effects_are_told_apart() -> None:
    page = parse_page(REFUSED)
    side = parse_page(ALIAS_EDIT)

    assert page.field_errors == (
        FormError("password", "Password is too short - requires 5 characters"),
    )
    assert page.form_errors() == [
        FormError("password", "Password is too short - requires 5 characters"),
        FormError(None, "This email address already exists, please choose a different one!"),
    ]
    assert page.infos == ("The mailbox old@web.test has been added to the mailbox table.",)
    assert side.form_errors() == []
    assert side.side_effects == (
        "The mailbox postcreate script failed, check the error log for details!",
    )
    assert is_side_effect("Unable to send email to ben@web.test!")
    assert not is_side_effect("Creating the mailbox boom@web.test failed!")


def test_rejected_is_structured() -> None:
    err = Rejected("mailbox a@b.test", parse_page(REFUSED).form_errors())
    assert err.already_exists
    assert not err.limit_reached
    assert str(err).startswith("PostfixAdmin refused mailbox a@b.test: password: Password is")
