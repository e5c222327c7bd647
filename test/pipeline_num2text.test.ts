import { test } from 'node:test';
import assert from 'node:assert/strict';
import { numbersToText } from '../shared/dataset/augment/augment_num2text.js';

test('integers, commas and decimals as words, without hyphens', () => {
  assert.equal(numbersToText('42'), 'forty two');
  assert.equal(numbersToText('The 1,500 runners ran 101 laps.'), 'The one thousand five hundred runners ran one hundred one laps.');
  assert.equal(numbersToText('pi is 3.14, half is 0.5 and it ends at 2.5.'), 'pi is three point one four, half is zero point five and it ends at two point five.');
  assert.equal(numbersToText('1000000 and 1,234,567'), 'one million and one million two hundred thirty four thousand five hundred sixty seven');
  assert.equal(numbersToText('0 or 9'), 'zero or nine');
});

test('years read as spoken by default, as counts or digits on request', () => {
  assert.equal(
    numbersToText('in 1999, 2024, 1905, 1900, 2005 and 2000'),
    'in nineteen ninety nine, twenty twenty four, nineteen oh five, nineteen hundred, two thousand five and two thousand',
  );
  assert.equal(numbersToText('1,999 people in 1999'), 'one thousand nine hundred ninety nine people in nineteen ninety nine');
  assert.equal(numbersToText('in 1999', { years: 'cardinal' }), 'in one thousand nine hundred ninety nine');
  assert.equal(numbersToText('in 1999 with 42', { years: 'digits' }), 'in 1999 with forty two');
  assert.equal(numbersToText('year 2100 and 1066'), 'year two thousand one hundred and one thousand sixty six');
});

test('ordinals when enabled', () => {
  assert.equal(numbersToText('the 21st century, 2nd place, 103rd floor, 4TH time'), 'the twenty first century, second place, one hundred third floor, fourth time');
  assert.equal(numbersToText('the 21st century', { ordinals: false }), 'the 21st century');
});

test('codes read digit by digit; numbers glued to letters or in dotted lists untouched', () => {
  assert.equal(numbersToText('agent 007'), 'agent zero zero seven');
  assert.equal(numbersToText('call 1234567890123456'), 'call one two three four five six seven eight nine zero one two three four five six');
  assert.equal(numbersToText('mp3 and 5kg in the 1990s, version 1.2.3 or 1,5'), 'mp3 and 5kg in the 1990s, version 1.2.3 or 1,5');
  assert.equal(numbersToText('COVID-19'), 'COVID-nineteen');
  assert.throws(() => numbersToText('1', { years: 'roman' as never }), /option 'years'/);
});
