"""Staff administration for HQ (用户、岗位、营业部、总部赋权) and every staff member's own password."""
