// Makes TC strings with the IAB's reference library (@iabtechlabtcf/core) and prints, one JSON
// line each, the string and what the library decodes from it. tutela's decoder must agree.
//   node reference.js N SEED
const { TCModel, TCString, GVL, PurposeRestriction, RestrictionType } = require('@iabtechlabtcf/core');

const n = Number(process.argv[2] || 100);
let seed = Number(process.argv[3] || 42) >>> 0;
const rand = () => { seed ^= seed << 13; seed >>>= 0; seed ^= seed >>> 17; seed ^= seed << 5; seed >>>= 0; return seed / 4294967296; };
const pick = (max, p) => { const out = []; for (let i = 1; i <= max; i++) if (rand() < p) out.push(i); return out; };

for (let k = 0; k < n; k++) {
  const maxVendor = 1 + Math.floor(rand() * 1200);
  const vendorIds = pick(maxVendor, rand() < 0.5 ? 0.02 : 0.6);
  if (vendorIds.length === 0) vendorIds.push(maxVendor);
  const purposes = {};
  for (let i = 1; i <= 11; i++) purposes[i] = { id: i, name: 'p' + i, description: '', illustrations: [] };
  const vendors = {};
  for (const id of vendorIds) vendors[id] = { id, name: 'v' + id, purposes: [1], legIntPurposes: [2], flexiblePurposes: [2], specialPurposes: [], features: [], specialFeatures: [], policyUrl: '', cookieMaxAgeSeconds: 0, usesCookies: false, deviceStorageDisclosureUrl: '' };
  const policyVersion = rand() < 0.5 ? 4 : 5;
  const gvl = new GVL({ gvlSpecificationVersion: 3, vendorListVersion: 1 + Math.floor(rand() * 300), tcfPolicyVersion: policyVersion, lastUpdated: '2026-01-01T00:00:00Z', purposes, specialPurposes: {}, features: {}, specialFeatures: { 1: { id: 1, name: 'a', description: '' }, 2: { id: 2, name: 'b', description: '' } }, vendors, stacks: {}, dataCategories: {} });
  const m = new TCModel(gvl);
  m.cmpId = 2 + Math.floor(rand() * 4000);
  m.cmpVersion = 1 + Math.floor(rand() * 4000);
  m.consentScreen = Math.floor(rand() * 60);
  m.publisherCountryCode = ['DE', 'FR', 'AT', 'NL'][Math.floor(rand() * 4)];
  m.isServiceSpecific = rand() < 0.7;
  m.purposeOneTreatment = rand() < 0.2;
  m.purposeConsents.set(pick(11, 0.5));
  m.purposeLegitimateInterests.set(pick(11, 0.3).filter((p) => p !== 1));
  m.specialFeatureOptins.set(pick(2, 0.5));
  m.vendorConsents.set(vendorIds.filter(() => rand() < 0.5));
  m.vendorLegitimateInterests.set(vendorIds.filter(() => rand() < 0.3));
  if (rand() < 0.4) {
    const pr = new PurposeRestriction(2, rand() < 0.5 ? RestrictionType.REQUIRE_CONSENT : RestrictionType.NOT_ALLOWED);
    for (const id of vendorIds.slice(0, 3)) m.publisherRestrictions.add(id, pr);
  }
  if (rand() < 0.5) { m.publisherConsents.set(pick(11, 0.5)); m.publisherLegitimateInterests.set(pick(11, 0.3)); }
  const segments = ['core', 'vendorsDisclosed'];
  if (rand() < 0.5) segments.push('publisherTC');
  let s;
  try {
    s = TCString.encode(m, { segments });
  } catch (e) {
    s = TCString.encode(m);
  }
  const d = TCString.decode(s);
  const ids = (v) => { const o = []; v.forEach((x, id) => { if (x) o.push(id); }); return o; };
  const restrictions = [];
  d.publisherRestrictions.getRestrictions().forEach((r) => restrictions.push([r.purposeId, r.restrictionType, d.publisherRestrictions.getVendors(r)]));
  console.log(JSON.stringify({
    string: s,
    cmp_id: d.cmpId, cmp_version: d.cmpVersion, consent_screen: d.consentScreen,
    vendor_list_version: d.vendorListVersion, policy_version: d.policyVersion,
    is_service_specific: d.isServiceSpecific, purpose_one_treatment: d.purposeOneTreatment,
    publisher_country_code: d.publisherCountryCode,
    special_feature_optins: ids(d.specialFeatureOptins),
    purpose_consents: ids(d.purposeConsents), purpose_legitimate_interests: ids(d.purposeLegitimateInterests),
    vendor_consents: ids(d.vendorConsents), vendor_legitimate_interests: ids(d.vendorLegitimateInterests),
    publisher_restrictions: restrictions,
    disclosed_vendors: s.split('.').length > 1 ? ids(d.vendorsDisclosed) : null,
    publisher_consents: ids(d.publisherConsents),
    created_ds: Math.round(d.created.getTime() / 100),
  }));
}
